import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { BODY_LIMIT } from './arm.ts';
import type { TlsFiles } from './tls.ts';

// One Fastify server per listening endpoint, configured as ARM routes need it: case-insensitive
// paths, doubled slashes collapsed, a request id on every response.

export interface ServerOptions {
  tls?: TlsFiles;
  logger: Logger;
}

/** A route as registered: the route audit and the fuzz test drive every one of them. */
export interface RouteEntry {
  method: string;
  url: string;
  anonymous: boolean;
  /** The api-versions an ARM route accepts (none: it takes any, or none). */
  apiVersions: string[];
  /** The resource type its errors name (and the provider list shows, for a path without a provider). */
  resourceType?: string;
}

const routeTables = new WeakMap<FastifyInstance, RouteEntry[]>();

/** Every route of a server made by `createServer`, in the order registered. */
export function routeTable(app: FastifyInstance): RouteEntry[] {
  return routeTables.get(app) ?? [];
}

export function createServer(opts: ServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.logger,
    https: opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : null,
    bodyLimit: BODY_LIMIT,
    routerOptions: { caseSensitive: false, ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: 500 },
    genReqId: () => randomUUID(),
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    exposeHeadRoutes: false,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  }) as unknown as FastifyInstance;
  const routes: RouteEntry[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (route) => {
    const config = route.config as { anonymous?: boolean; apiVersions?: string[]; resourceType?: string } | undefined;
    for (const method of [route.method].flat()) {
      routes.push({ method, url: route.url, anonymous: Boolean(config?.anonymous), apiVersions: config?.apiVersions ?? [], resourceType: config?.resourceType });
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-ms-request-id', request.id);
    const correlation = request.headers['x-ms-correlation-request-id'] ?? request.headers['x-ms-client-request-id'];
    reply.header('x-ms-correlation-request-id', typeof correlation === 'string' ? correlation : request.id);
    if (typeof request.headers['x-ms-client-request-id'] === 'string') reply.header('x-ms-client-request-id', request.headers['x-ms-client-request-id']);
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.info({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  app.get('/healthz', { config: { anonymous: true } }, async () => ({ status: 'ok' }));
  return app;
}

/** Listens and gives back the origin (scheme, host, port) that clients use. */
export async function listen(app: FastifyInstance, host: string, port: number, secure: boolean): Promise<string> {
  await app.listen({ host, port });
  const address = app.server.address() as { port: number };
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${secure ? 'https' : 'http'}://${shownHost}:${address.port}`;
}
