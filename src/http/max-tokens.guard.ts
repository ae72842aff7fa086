import type { RequestHandler } from 'express';
import { GraphQLError, parse } from 'graphql';

/**
 * Refuses a GraphQL document of more than `maxTokens` tokens with 400 before Apollo sees it
 * (graphql-js's own limit stops counting there; a check inside Apollo could only answer 500).
 * A document shorter in characters than the limit cannot exceed it and is not looked at.
 */
export function maxTokensGuard(maxTokens: number): RequestHandler {
  return (req, res, next) => {
    const query = (req.body as { query?: unknown } | undefined)?.query;
    if (typeof query !== 'string' || query.length <= maxTokens) return next();
    try {
      parse(query, { maxTokens });
    } catch (err) {
      if (err instanceof GraphQLError && /tokens/.test(err.message)) {
        res.status(400).json({ errors: [{ message: `Syntax Error: Token limit of ${maxTokens} exceeded.`, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }] });
        return;
      }
    }
    next(); // any other syntax error is Apollo's to report
  };
}
