import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { StartupError } from '../core/errors.ts';
import { BODY_LIMIT, sendArmError, toArmError } from './arm.ts';
import { checkRequestUrl, sendFrameworkError } from './edge.ts';
import { installJsonAnswers } from './json-answers.ts';
import type { TlsFiles } from './tls.ts';

// One Fastify server per listening endpoint, configured as ARM routes need it: case-insensitive
// paths, doubled slashes collapsed, a request id on every response.

/** A route as registered: the route audit and the fuzz test drive every one of them. */
export interface RouteEntry {
  method: string;
  url: string;
  /** Answered without a token (`config.anonymous`). */
  anonymous: boolean;
  /** The api-versions the route accepts, when it asks for one. */
  apiVersions?: readonly string[];
  /** The resource type its errors name (and the provider list shows, for a path without a provider). */
  resourceType?: string;
  /** The JSON schema of its body, when it has one. */
  bodySchema?: unknown;
}

// Every route of every server, as Fastify registered it, and the servers this process listens with
// by origin: the live route table that the fuzz test drives, so a new route is covered by itself.
const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();
const listening = new Map<string, RouteEntry[]>();

/** The routes of each server this process listens with, by origin. */
export function liveRouteTable(): ReadonlyMap<string, readonly RouteEntry[]> {
  return listening;
}

export interface ServerOptions {
  tls?: TlsFiles;
  logger: Logger;
}

/** Every route of a server made by `createServer`, in the order registered. */
export function routeTable(app: FastifyInstance): RouteEntry[] {
  return routeTables.get(app) ?? [];
}

/**
 * A Fastify plugin (an encapsulated scope) that registers routes and hooks. Typed as the async
 * plugin it is, so the linter's promise rules see which of `register`'s overloads it takes.
 */
export const scope =
  (mount: (app: FastifyInstance) => void | Promise<void>): FastifyPluginAsync =>
  async (app) =>
    mount(app);

export function createServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    https: opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : null,
    bodyLimit: BODY_LIMIT,
    routerOptions: {
      caseSensitive: false,
      ignoreDuplicateSlashes: true,
      ignoreTrailingSlash: true,
      maxParamLength: 500,
    },
    genReqId: () => randomUUID(),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    frameworkErrors: sendFrameworkError,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;
  // JSON answers compressed for the clients that ask (Azure's SDKs ask for gzip or deflate, Python's
  // requests too): a usage page's 930 kB is 14 kB in gzip, and its TLS write and read took longer
  // than its query. In the event loop (a stream through the thread pool cost a page 6 ms more).
  installJsonAnswers(app);
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (route) => {
    const config = route.config as
      { anonymous?: boolean; apiVersions?: readonly string[]; resourceType?: string } | undefined;
    const bodySchema = (route.schema as { body?: unknown } | undefined)?.body;
    for (const method of [route.method].flat()) {
      routes.push({
        method,
        url: route.url,
        anonymous: Boolean(config?.anonymous),
        apiVersions: config?.apiVersions,
        resourceType: config?.resourceType,
        bodySchema,
      });
    }
  });
  routeTables.set(app, routes);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-ms-request-id', request.id);
    const correlation = request.headers['x-ms-correlation-request-id'] ?? request.headers['x-ms-client-request-id'];
    reply.header('x-ms-correlation-request-id', typeof correlation === 'string' ? correlation : request.id);
    if (typeof request.headers['x-ms-client-request-id'] === 'string')
      reply.header('x-ms-client-request-id', request.headers['x-ms-client-request-id']);
  });
  // Routes outside any API (health, CORS preflights, the portal's files) answer errors in ARM's
  // shape too; an internal failure is logged with the request id and never shown.
  app.setErrorHandler((error, request, reply) => {
    const refusal = toArmError(error as Error, request);
    if (refusal.status >= 500) request.log.error({ err: error }, 'request failed');
    return sendArmError(reply, refusal);
  });
  // After the request id is set, so that even this refusal carries it; each context renders it in its shape.
  app.addHook('onRequest', async (request) => checkRequestUrl(request));
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });
  app.get('/healthz', { config: { anonymous: true } }, async () => ({ status: 'ok' }));
  return app;
}

/** Listens and gives back the origin (scheme, host, port) that clients use. */
export async function listen(app: FastifyInstance, host: string, port: number, secure: boolean): Promise<string> {
  try {
    await app.listen({ host, port });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new StartupError(
        `Port ${port} on ${host} is already in use: stop what uses it, or choose other ports with --port (0 picks free ones).`,
        e,
      );
    if (code === 'EACCES')
      throw new StartupError(
        `Listening on port ${port} needs privileges this user does not have: choose a port above 1023 with --port.`,
        e,
      );
    if (code === 'EADDRNOTAVAIL') throw new StartupError(`The address ${host} is not one of this machine's.`, e);
    throw e;
  }
  const address = app.server.address() as { port: number };
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const origin = `${secure ? 'https' : 'http'}://${shownHost}:${address.port}`;
  listening.set(origin, routeTables.get(app) ?? []);
  app.server.once('close', () => listening.delete(origin));
  return origin;
}
