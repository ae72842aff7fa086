import type { ApolloServerPlugin } from '@apollo/server';
import { ErrorCode } from './kiln-errors';

/** Errors one response carries at most: a request with 5,000 bad keys gets 10 and a count, not 5,000. */
export const MAX_ERRORS_PER_RESPONSE = 10;

/**
 * Keeps every answer small whatever the request held: at most MAX_ERRORS_PER_RESPONSE
 * errors (plus one saying how many were left out). Messages are shortened by the error
 * formatter, which sees them one at a time. A request refused for what it is (too many
 * tokens, a parse error) answers 400, not the 500 Apollo gives some of them.
 */
export function boundedErrorsPlugin<T extends object>(): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== 'single') return;
          const errors = response.body.singleResult.errors;
          if (!errors) return;
          if ((response.http.status ?? 200) >= 500 && errors.every((e) => e.extensions?.code !== ErrorCode.INTERNAL)) response.http.status = 400;
          if (errors.length <= MAX_ERRORS_PER_RESPONSE) return;
          const left = errors.length - MAX_ERRORS_PER_RESPONSE;
          response.body.singleResult.errors = [
            ...errors.slice(0, MAX_ERRORS_PER_RESPONSE),
            { message: `${left} more error(s) left out`, extensions: { code: errors[0].extensions?.code ?? ErrorCode.BAD_USER_INPUT } },
          ];
        },
      };
    },
  };
}
