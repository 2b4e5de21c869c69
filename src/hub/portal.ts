import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.ts';
import { identityStore } from '../identity/store.ts';
import { STACKLEDGER_CLI_CLIENT_ID } from '../identity/rules.ts';
import { registrationStore } from '../registration/store.ts';
import type { HubEndpoints } from './app.ts';
import type { PortalConfig, PortalStack } from './portal-config.ts';
import type { HubTables } from './tables.ts';

// The web portal: the static files Vite built into portal/dist (anonymous, same origin as the
// APIs it calls), a fallback to index.html for the single-page app's own paths, and config.json,
// which tells the browser where the APIs are.

export const PORTAL_DIST = path.resolve(import.meta.dirname, '../../portal/dist');

/**
 * The deployments registered with this hub, and their URLs. A registration carries the object id of
 * the stack application's service principal; that application's identifier URIs are the stack's
 * admin and tenant URLs, in that order (the stack writes them so at every start).
 */
export async function registeredStacks(db: Kysely<HubTables>): Promise<PortalStack[]> {
  const stacks = new Map<string, PortalStack>();
  for (const reg of await registrationStore.allLive(db)) {
    const sp = await identityStore.getServicePrincipal(db, reg.object_id);
    const app = sp ? await identityStore.getApplication(db, sp.app_id) : undefined;
    const [adminArm, tenantArm] = app?.identifier_uris ?? [];
    if (!app || !adminArm || !tenantArm) continue;
    stacks.set(app.app_id, { name: reg.name, adminArm, tenantArm, applicationId: app.app_id });
  }
  return [...stacks.values()];
}

export async function portalConfig(
  db: Kysely<HubTables>,
  endpoints: HubEndpoints,
  clock: Clock,
): Promise<PortalConfig> {
  return {
    hub: endpoints,
    clientId: STACKLEDGER_CLI_CLIENT_ID,
    clock: { now: clock.now().toISOString(), simulated: clock.simulated },
    stacks: await registeredStacks(db),
  };
}

export function contentSecurityPolicy(stackOrigins: string[]): string {
  return [
    "default-src 'self'",
    `connect-src 'self' ${[...new Set(stackOrigins)].join(' ')}`.trim(),
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Mounted under the hub's portal path. */
export async function registerPortal(
  app: FastifyInstance,
  config: () => Promise<PortalConfig>,
  distDir = PORTAL_DIST,
): Promise<void> {
  app.get('/config.json', { config: { anonymous: true } }, async (_request, reply) =>
    reply.header('cache-control', 'no-store').send(await config()),
  );

  if (!existsSync(path.join(distDir, 'index.html'))) {
    const notBuilt = async (_request: unknown, reply: FastifyReply) =>
      reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send('The portal is not built. Run `npm run build:portal` (npm install does it), then restart.');
    app.get('/', notBuilt);
    app.get('/*', notBuilt);
    return;
  }
  // The page holds bearer tokens: it runs only its own scripts and talks only to the hub and the
  // registered stacks.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) {
      const stacks = (await config()).stacks.flatMap((s) => [new URL(s.adminArm).origin, new URL(s.tenantArm).origin]);
      reply.header('content-security-policy', contentSecurityPolicy(stacks));
      reply.header('referrer-policy', 'no-referrer');
    }
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });
  // Hashed assets may be cached for long; index.html never, so a new build shows at once.
  await app.register(fastifyStatic, {
    root: distDir,
    prefix: '/',
    setHeaders: (reply, file) =>
      reply.header('cache-control', file.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
  });
  app.setNotFoundHandler((request, reply) => {
    // The app's own paths (no file extension) get the app; a missing asset stays a 404.
    const last = request.url.split('?')[0].split('/').pop() ?? '';
    if (request.method === 'GET' && !last.includes('.'))
      return reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').sendFile('index.html');
    return reply
      .status(404)
      .type('text/plain; charset=utf-8')
      .send(`No file at ${request.url.split('?')[0]}.`);
  });
}
