import type { CombinedError } from '@urql/core';

/** An API failure as the console shows it: the gateway's words and its stable code. */
export interface ApiProblem {
  code: string;
  message: string;
}

export function problemOf(error: CombinedError | undefined | null): ApiProblem | null {
  if (!error) return null;
  const first = error.graphQLErrors[0];
  if (first) return { code: String(first.extensions?.code ?? 'INTERNAL'), message: first.message };
  return { code: 'NETWORK', message: `The gateway could not be reached (${error.networkError?.message ?? 'no answer'})` };
}

/** The codes that mean this tab's token is no longer accepted. */
export const isSessionEnded = (code: string | undefined): boolean => code === 'UNAUTHENTICATED';
