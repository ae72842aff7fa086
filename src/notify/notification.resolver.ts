import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { NotificationChannelKind, NotificationTestResult } from './notification-test.type';

@Resolver()
export class NotificationResolver {
  constructor(private readonly services: Services) {}

  @Authorized('ADMIN')
  @Mutation(() => NotificationTestResult, {
    description: 'Sends one test message on the channel now (one try, within the delivery timeout) and says whether it arrived.',
  })
  testNotification(
    @Arg('channel', () => NotificationChannelKind) channel: NotificationChannelKind,
    @Ctx() ctx: KilnContext,
  ): Promise<NotificationTestResult> {
    return this.services.notifications.test(channel, caller(ctx), ctx.meta);
  }
}
