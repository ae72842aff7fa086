import type { ApolloServerPlugin } from '@apollo/server';
import { BREAK, visit, type DocumentNode } from 'graphql';
import { UnauthenticatedError } from '../errors/kiln-errors';
import type { KilnContext } from './context';

/**
 * The schema is shown to admins (a token) always, to anonymous clients only with
 * INTROSPECTION=public: a stranger learns nothing of the API by asking it.
 */
export function introspectionPlugin(publicIntrospection: boolean): ApolloServerPlugin<KilnContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, contextValue }) {
          if (publicIntrospection || contextValue.identity || !introspects(document)) return;
          throw new UnauthenticatedError('Introspection needs an admin token (or INTROSPECTION=public on the server)');
        },
      };
    },
  };
}

function introspects(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}
