import type { GraphQLSchema } from 'graphql';
import { buildSchema, type ContainerType } from 'type-graphql';
import { AuthResolver } from '../auth/auth.resolver';
import { MaintenanceResolver } from '../system/maintenance.resolver';
import { authChecker } from './auth-checker';
import './register-enums';

export const resolvers = [AuthResolver, MaintenanceResolver] as const;

/** Builds the executable schema from the decorated classes. */
export function buildKilnSchema(container?: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    container,
    authChecker,
    authMode: 'error',
    validate: true,
  });
}
