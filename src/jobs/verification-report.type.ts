import { Field, ObjectType } from 'type-graphql';

@ObjectType('VerificationCheck')
export class VerificationCheck {
  @Field()
  name: string;

  @Field()
  ok: boolean;

  @Field(() => String, { nullable: true })
  detail?: string | null;
}

@ObjectType('VerificationReport')
export class VerificationReport {
  @Field()
  ok: boolean;

  @Field(() => [VerificationCheck])
  checks: VerificationCheck[];
}
