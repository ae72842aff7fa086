import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { ResetResult } from './reset-result.type';

@Resolver()
export class ResetResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Mutation(() => ResetResult, {
    description: 'Empties all lending data after a PRE_RESET backup, leaving one super admin. confirmation must be "DELETE".',
  })
  resetSystem(
    @Arg('confirmation') confirmation: string,
    @Arg('superAdminPassword', () => String, { nullable: true }) superAdminPassword: string | null,
    @Ctx() ctx: KilnContext,
  ): Promise<ResetResult> {
    return this.services.reset.reset(confirmation, superAdminPassword, caller(ctx), ctx.meta);
  }
}
