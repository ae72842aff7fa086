import type { IncomingMessage, Server } from 'node:http';
import { finished, type Duplex } from 'node:stream';
import { anonymousGate } from '../http/anonymous-gate';
import { boundedErrorsPlugin } from '../errors/bounded-errors.plugin';
import { introspectionPlugin } from './introspection.plugin';
import { refusedMutationPlugin } from '../audit/refused-mutation.plugin';
import type { AuditLogService } from '../audit/audit-log.service';
import { maxTokensGuard } from '../http/max-tokens.guard';
import { SocketGuard, type SocketGuardOptions } from './socket-guard';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { playgroundRoute, type PlaygroundMode } from '../http/playground.route';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { Express, Request, RequestHandler } from 'express';
import express from 'express';
import { GraphQLError, parse, specifiedRules, validate, type ExecutionArgs, type GraphQLSchema } from 'graphql';
import graphqlUploadExpress from 'graphql-upload/graphqlUploadExpress.mjs';
import { assertRoomFor } from '../restore/upload-receiver';
import { reportUnexpected } from '../errors/unexpected-error';
import type { Tarpit } from '../http/tarpit';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { AuthService } from '../auth/auth.service';
import type { Job } from '../jobs/job.entity';
import { JobKind } from '../jobs/job.enums';
import type { JobRunner } from '../jobs/job-runner';
import type { MaintenanceService } from '../system/maintenance.service';
import type { Identity, RequestMeta } from '../auth/identity';
import { bearerToken } from '../auth/token.service';
import { createUserLoader } from '../auth/user-loader';
import { createErrorFormatter } from '../errors/format-error';
import { ConflictError, ErrorCode, ForbiddenError, KilnError, UnauthenticatedError } from '../errors/kiln-errors';
import { Role } from '../domain/lending-enums';
import type { Logger } from '../logging/logger';
import type { KilnContext } from './context';

export const GRAPHQL_PATH = '/graphql';
/** Sockets one address may hold open without a token (GraphiQL opens one per tab). */
const MAX_PENDING_SOCKETS_PER_ADDRESS = 10;
const NO_SOCKET_TOKEN = 'send a bearer token in connectionParams.authorization or the first operation’s extensions.headers';

export interface GraphQLServerOptions {
  schema: GraphQLSchema;
  httpServer: Server;
  auth: AuthService;
  jobStream: (jobId?: string) => AsyncIterable<Job>;
  logger: Logger;
  maxDepth: number;
  maxTokens: number;
  maxRequestBytes: number;
  /** Base of the links Kiln hands out: PUBLIC_URL, else the address the server is bound to. */
  linkBase: () => string;
  /** Requests without a token per client address and second (ANONYMOUS_REQUESTS_PER_SECOND). */
  anonymousRequestsPerSecond: number;
  /** Holds refusals until the client may try again. */
  tarpit: Tarpit;
  /** Uploads (restores) are refused before their body is read unless maintenance is on and the job slot free. */
  maintenance: MaintenanceService;
  jobs: JobRunner;
  /** Where refused dangerous mutations are written down. */
  audit: AuditLogService;
  /** PLAYGROUND: what a browser opening /graphql gets. */
  playground: PlaygroundMode;
  /** INTROSPECTION=public: anonymous clients may introspect too (admins always may). */
  publicIntrospection: boolean;
  /** Open sockets: sessions checked again every checkMs, subscriptions capped. */
  sockets: SocketGuardOptions;
  maxUploadBytes: number;
  /** Disk an upload must leave free (UPLOAD_MIN_FREE_BYTES). */
  uploadMinFreeBytes: number;
}

/**
 * Mounts Apollo (queries and mutations over HTTP) and graphql-ws
 * (subscriptions) on the same path. Returns a function that stops both.
 */
export async function mountGraphQL(app: Express, options: GraphQLServerOptions): Promise<() => Promise<void>> {
  const { schema, httpServer, auth, logger } = options;
  const armor = new ApolloArmor({
    maxDepth: { n: options.maxDepth },
    // Counted by maxTokensGuard (HTTP) and parse's own limit (graphql-ws): armor's answered 500.
    maxTokens: { enabled: false },
  }).protect();
  const formatError = createErrorFormatter(logger);

  const contextFor = async (token: string | undefined, meta: RequestMeta): Promise<KilnContext> => {
    const baseUrl = options.linkBase();
    const users = createUserLoader(auth);
    if (!token) return { meta, baseUrl, users };
    try {
      return { meta, baseUrl, users, identity: await auth.authenticate(token) };
    } catch (err) {
      if (err instanceof KilnError) return { meta, baseUrl, users, authError: err };
      throw err;
    }
  };

  // graphql-ws never runs Apollo's context or plugins: it authenticates once per
  // connection, the guard re-checks every socket's session each second, and the same limits apply.
  const guard = new SocketGuard(auth, options.sockets, logger);
  guard.start();
  // noServer: upgrades are handed over below. Bound to the HTTP server, ws would re-emit that
  // server's own errors (a busy port at start), which graphql-ws prints as a raw stack.
  const wsServer = new WebSocketServer({ noServer: true, path: GRAPHQL_PATH, maxPayload: options.maxRequestBytes });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  httpServer.on('upgrade', onUpgrade);
  type SocketExtra = {
    context?: KilnContext;
    request: Request;
    /** The one authentication of this socket: every subscribe waits on it, none starts another. */
    authentication?: Promise<boolean>;
    /** A socket opened without a token, until its first operation brings one. */
    pending?: { address: string; deadline: NodeJS.Timeout };
  };
  type SocketCtx = { extra: SocketExtra & { socket: import('ws').WebSocket; request: IncomingMessage } };
  const pendingByAddress = new Map<string, number>();
  const endPending = (extra: SocketExtra) => {
    if (!extra.pending) return;
    clearTimeout(extra.pending.deadline);
    const left = (pendingByAddress.get(extra.pending.address) ?? 1) - 1;
    if (left > 0) pendingByAddress.set(extra.pending.address, left);
    else pendingByAddress.delete(extra.pending.address);
    extra.pending = undefined;
  };
  // A client that never answers the close handshake is cut off a moment later.
  const closeSocket = (socket: import('ws').WebSocket, code: number, reason: string) => {
    socket.close(code, reason.slice(0, 120));
    setTimeout(() => socket.terminate(), 1000).unref();
  };
  /**
   * Checks a socket's token: binds the identity to the socket, or closes it (4401, 4403, 4500) and
   * returns false. GraphiQL sends its Headers tab only with each operation (extensions.headers),
   * never in connection_init: a socket that opened without a token is authenticated by its first
   * subscribe, within SOCKET_AUTH_TIMEOUT_MS. Called once per socket (see `authentication`).
   */
  const authenticateSocket = async (ctx: SocketCtx, authorization: unknown): Promise<boolean> => {
    endPending(ctx.extra);
    const token = bearerToken(typeof authorization === 'string' ? authorization : undefined);
    const meta = { ipAddress: ctx.extra.request.socket.remoteAddress ?? null, userAgent: ctx.extra.request.headers['user-agent'] ?? null };
    let context: KilnContext;
    try {
      context = await contextFor(token, meta);
    } catch (err) {
      // graphql-ws would print it raw: logged under a reference, the socket told only INTERNAL.
      const masked = reportUnexpected(logger, err, 'socket authentication failed');
      closeSocket(ctx.extra.socket, 4500, `INTERNAL: reference ${masked.reference}`);
      return false;
    }
    const problem =
      context.authError ??
      (!context.identity
        ? new UnauthenticatedError(NO_SOCKET_TOKEN)
        : context.identity.role !== Role.ADMIN
          ? new ForbiddenError() // every operation worth a socket is an admin's; the guard checks the same each second
          : undefined);
    if (problem) {
      closeSocket(ctx.extra.socket, problem.code === ErrorCode.FORBIDDEN ? 4403 : 4401, `${problem.code}: ${problem.message}`);
      return false;
    }
    ctx.extra.context = context;
    guard.watch(ctx.extra.socket, context.identity!);
    return true;
  };
  const wsCleanup = useServer<Record<string, unknown>, SocketExtra>(
    {
      schema,
      // Close reasons never carry an internal error's message, and nothing is printed outside the log.
      isProd: true,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        if (authorization !== undefined) return (ctx.extra.authentication = authenticateSocket(ctx, authorization));
        const address = ctx.extra.request.socket.remoteAddress ?? 'unknown';
        const pending = pendingByAddress.get(address) ?? 0;
        if (pending >= MAX_PENDING_SOCKETS_PER_ADDRESS) {
          closeSocket(ctx.extra.socket, 4429, `TOO_MANY_REQUESTS: ${pending} sockets from this address wait for a token already`);
          return false;
        }
        pendingByAddress.set(address, pending + 1);
        const deadline = setTimeout(() => closeSocket(ctx.extra.socket, 4401, `UNAUTHENTICATED: ${NO_SOCKET_TOKEN}`), options.sockets.pendingAuthMs);
        ctx.extra.pending = { address, deadline };
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        if (!ctx.extra.context) {
          // The first operation's headers authenticate the socket; later ones (even sent at once) only wait for it.
          const headers = (payload.extensions?.headers ?? {}) as Record<string, unknown>;
          ctx.extra.authentication ??= authenticateSocket(ctx, headers.authorization ?? headers.Authorization);
          if (!(await ctx.extra.authentication)) return [new UnauthenticatedError()];
        }
        const context = ctx.extra.context;
        if (!context?.identity) return [new UnauthenticatedError()];
        // A socket whose session ended runs nothing more, even while it waits for a job's final state.
        if (!guard.allows(ctx.extra.socket)) return [new UnauthenticatedError('The session of this connection ended: log in again', { reason: 'SESSION_REVOKED' })];
        let document;
        try {
          document = parse(payload.query, { maxTokens: options.maxTokens });
        } catch (err) {
          return [err as GraphQLError];
        }
        const errors = validate(schema, document, [...specifiedRules, ...armor.validationRules]);
        if (errors.length > 0) return errors;
        const capped = guard.subscribe(ctx.extra.socket, id);
        if (capped) return [capped];
        const args: ExecutionArgs = {
          schema,
          document,
          variableValues: payload.variables,
          operationName: payload.operationName,
          contextValue: { ...context, users: createUserLoader(auth, { cache: false }), jobStream: (jobId?: string) => guard.guard(ctx.extra.socket, id, jobId, options.jobStream(jobId)) },
        };
        return args;
      },
      onComplete: (ctx, id) => guard.unsubscribe(ctx.extra.socket, id),
      onClose: (ctx) => endPending(ctx.extra),
      // The same formatter as over HTTP: unexpected errors reach a socket as INTERNAL, never their message.
      onError: (_ctx, _id, _payload, errors) => {
        logger.debug({ errors: errors.map((e) => e.message) }, 'subscription error');
        return errors.map((e) => formatError(e.toJSON(), e));
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((e) => formatError(e.toJSON(), e)) } : undefined,
    },
    wsServer,
  );
  // graphql-ws prints a socket's error (a frame past maxPayload, a malformed frame) with console.error;
  // ws closes such a socket itself, so the error only needs a log line. Runs after graphql-ws's own listener.
  wsServer.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (err) => logger.info({ err: err.message }, 'socket closed on a protocol error'));
  });

  const apollo = new ApolloServer<KilnContext>({
    schema,
    formatError,
    csrfPrevention: true,
    // main.ts orders the shutdown: drain HTTP, then the database.
    stopOnTerminationSignals: false,
    introspection: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    validationRules: armor.validationRules,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        serverWillStart: async () => ({
          drainServer: async () => {
            guard.stop();
            httpServer.off('upgrade', onUpgrade);
            await wsCleanup.dispose();
          },
        }),
      },
      options.playground === 'sandbox' ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }) : ApolloServerPluginLandingPageDisabled(),
      ...armor.plugins,
      boundedErrorsPlugin<KilnContext>(),
      introspectionPlugin(options.publicIntrospection),
      refusedMutationPlugin(options.audit),
    ],
  });
  await apollo.start();

  app.use(
    GRAPHQL_PATH,
    anonymousGate(options.anonymousRequestsPerSecond, (header) => auth.carriesSignedToken(header), options.tarpit),
    ...(options.playground === 'graphiql' ? [playgroundRoute()] : []),
    uploadGuard(auth, { maintenance: options.maintenance, jobs: options.jobs, audit: options.audit, minFreeBytes: options.uploadMinFreeBytes }),
    graphqlUploadExpress({ maxFileSize: options.maxUploadBytes + 1, maxFiles: 1 }),
    express.json({ limit: options.maxRequestBytes }),
    maxTokensGuard(options.maxTokens),
    expressMiddleware(apollo, {
      context: async ({ req }) =>
        contextFor(
          bearerToken(req.headers.authorization),
          { ipAddress: req.ip ?? null, userAgent: req.get('user-agent') ?? null },
        ),
    }),
  );
  return () => apollo.stop();
}

/**
 * Multipart (upload) requests are checked before a byte of the file is buffered: CSRF preflight
 * header present, caller an ADMIN, maintenance mode on, the job slot free, no other upload being
 * received here, room on the disk for the declared size.
 */
function uploadGuard(auth: AuthService, checks: { maintenance: MaintenanceService; jobs: JobRunner; audit: AuditLogService; minFreeBytes: number }): RequestHandler {
  // Only one restore can run at a time: a second upload meanwhile would be stored to be refused.
  let receiving = false;
  return async (req, res, next) => {
    if (!req.is('multipart/form-data')) return next();
    const refuse = (status: number, code: string, message: string, extensions: Record<string, unknown> = {}) => {
      // The body is not read: close the connection rather than drain a large upload.
      res.set('Connection', 'close').status(status).json({ errors: [{ message, extensions: { ...extensions, code } }] });
    };
    if (!req.headers['apollo-require-preflight'] && !req.headers['x-apollo-operation-name']) {
      return refuse(400, 'BAD_REQUEST', 'Multipart requests need an apollo-require-preflight header (CSRF protection)');
    }
    const token = bearerToken(req.headers.authorization);
    if (!token) return refuse(401, ErrorCode.UNAUTHENTICATED, 'Authentication required: send a valid bearer token');
    let identity: Identity | undefined;
    const refuseSignedIn = async (err: KilnError) => {
      // A signed-in caller's refused upload goes in the audit trail (the operation is in the body, not read: "upload").
      if (identity) checks.audit.recordRefusal(identity.userId, 'upload', { code: err.code, message: err.message }, { ipAddress: req.ip ?? null, userAgent: req.get('user-agent') ?? null });
      refuse(err.httpStatus, err.code, err.message, err.extensions);
    };
    try {
      identity = await auth.authenticate(token);
      if (identity.role !== 'ADMIN') return await refuseSignedIn(new ForbiddenError('This operation is for administrators only'));
      // The only upload is a restore: refused now if it could not start, before gigabytes arrive.
      await checks.maintenance.assertEnabled();
      await checks.jobs.assertCanStart(JobKind.RESTORE);
      if (receiving) throw new ConflictError('Another backup upload is being received; try again when it is done');
      receiving = true;
      // finished() also calls back for a response already closed (a client gone during the checks above).
      finished(res, () => (receiving = false));
      const declared = Number(req.headers['content-length']);
      if (Number.isSafeInteger(declared)) await assertRoomFor(declared, checks.minFreeBytes);
    } catch (err) {
      if (err instanceof KilnError) return refuseSignedIn(err);
      return next(err);
    }
    next();
  };
}
