import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange } from '@urql/core';
import { createClient as createSocket, type Client as SocketClient } from 'graphql-ws';
import { isSessionEnded } from './errors';
import { sessions, type Session } from './session';

const ENDED = 'Your session ended (signed out, expired, or revoked by a restore or reset): sign in again.';
// The gateway closes a socket with these when the token is refused or the session ends.
const AUTH_CLOSE_CODES = new Set([4401, 4403]);

export const graphqlUrl = '/graphql';

/**
 * One client per session: queries and mutations over HTTP with the bearer header,
 * subscriptions over graphql-ws with the token in connectionParams. A refused
 * token anywhere ends the session in this tab.
 */
export function createApiClient(session: Session): { client: Client; socket: SocketClient } {
  const socket = createSocket({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${graphqlUrl}`,
    connectionParams: { authorization: `Bearer ${session.token}` },
    lazy: true,
    retryAttempts: 10,
    shouldRetry: (event) => !(isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)),
    on: {
      closed: (event) => {
        if (isCloseEvent(event) && AUTH_CLOSE_CODES.has(event.code)) sessions.end(ENDED);
      },
    },
  });
  const client = new Client({
    url: graphqlUrl,
    requestPolicy: 'cache-and-network',
    // POST always: a GET would need Apollo's CSRF header and puts variables in URLs and logs.
    preferGetMethod: false,
    fetchOptions: () => ({ headers: { authorization: `Bearer ${session.token}` } }),
    exchanges: [
      mapExchange({
        onError(error) {
          if (error.graphQLErrors.some((e) => isSessionEnded(e.extensions?.code as string))) sessions.end(ENDED);
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: socket.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return { client, socket };
}

function isCloseEvent(event: unknown): event is CloseEvent {
  return typeof event === 'object' && event !== null && 'code' in event;
}
