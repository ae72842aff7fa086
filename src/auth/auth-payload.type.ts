import { Field, ObjectType } from 'type-graphql';
import { User } from '../domain';

@ObjectType('AuthPayload')
export class AuthPayload {
  @Field()
  token: string;

  @Field()
  expiresAt: Date;

  @Field(() => User)
  user: User;
}
