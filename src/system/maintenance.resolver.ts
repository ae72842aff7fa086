import { Arg, Authorized, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { User } from '../domain';
import { MaintenanceState } from './maintenance-state.entity';

@Resolver(() => MaintenanceState)
export class MaintenanceResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Query(() => MaintenanceState)
  maintenanceMode(): Promise<MaintenanceState> {
    return this.services.maintenance.get();
  }

  @Authorized('ADMIN')
  @Mutation(() => MaintenanceState, {
    description: 'Turns maintenance mode on or off for every instance; restore and reset need it on.',
  })
  setMaintenanceMode(
    @Arg('enabled') enabled: boolean,
    @Arg('reason', () => String, { nullable: true }) reason: string | null,
    @Ctx() ctx: KilnContext,
  ): Promise<MaintenanceState> {
    return this.services.maintenance.set(enabled, reason, caller(ctx), ctx.meta);
  }

  @FieldResolver(() => User, { nullable: true })
  enabledBy(@Root() state: MaintenanceState, @Ctx() ctx: KilnContext): Promise<User | null> {
    return state.enabledById ? ctx.users.load(state.enabledById) : Promise.resolve(null);
  }
}
