import { Arg, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { caller, type KilnContext } from '../api/context';
import type { Services } from '../api/services';
import { User } from '../domain';
import { AuthPayload } from './auth-payload.type';

@Resolver()
export class AuthResolver {
  constructor(private readonly services: Services) {}

  @Mutation(() => AuthPayload, { description: 'Exchanges an ADMIN\'s email and password for a bearer token.' })
  login(@Arg('email') email: string, @Arg('password') password: string, @Ctx() ctx: KilnContext): Promise<AuthPayload> {
    return this.services.auth.login(email, password, ctx.meta);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Revokes the session of the token used.' })
  logout(@Ctx() ctx: KilnContext): Promise<boolean> {
    return this.services.auth.logout(caller(ctx));
  }

  @Authorized('ADMIN')
  @Query(() => User)
  me(@Ctx() ctx: KilnContext): Promise<User> {
    return this.services.auth.currentUser(caller(ctx));
  }
}
