import { IsOptional, Length } from 'class-validator';
import { Args, ArgsType, Authorized, Ctx, Field, Mutation, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { ResetResult } from './reset-result.type';

@ArgsType()
class ResetArgs {
  /** Checked by the service: typing it is the point of the rule. */
  @Field()
  confirmation: string;

  @Field(() => String, { nullable: true })
  @IsOptional()
  @Length(12, 256, { message: 'superAdminPassword must be 12 to 256 characters' })
  superAdminPassword: string | null;
}

@Resolver()
export class ResetResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Mutation(() => ResetResult, {
    description: 'Empties all lending data after a PRE_RESET backup, leaving one super admin. confirmation must be "DELETE".',
  })
  resetSystem(@Args() { confirmation, superAdminPassword }: ResetArgs, @Ctx() ctx: KilnContext): Promise<ResetResult> {
    return this.services.reset.reset(confirmation, superAdminPassword, caller(ctx), ctx.meta);
  }
}
