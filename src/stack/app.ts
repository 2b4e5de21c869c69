import { registerChargebackRoutes } from './chargeback/routes.ts';
import type { PricingTables } from '../rating/tables.ts';
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { catalogOf, registerProviderRoutes } from '../arm/provider-routes.ts';
import { tenantPage } from '../arm/context.ts';
import { registerArmBaseRoutes } from '../arm/routes.ts';
import { systemRights, type ArmContext } from '../arm/service.ts';
import type { ArmTables } from '../arm/tables.ts';
import type { HttpClient } from '../core/http-client.ts';
import type { WorkScheduler } from '../core/scheduler.ts';
import { HubTokenVerifier, remoteKeySet, requestAppToken } from '../core/tokens.ts';
import { oneProcessAtATime, type TablesOf } from '../db/database.ts';
import { armEndpoint } from '../http/arm.ts';
import { createServer, routeTable, scope } from '../http/server.ts';
import { registerSystemRoutes } from '../http/system-routes.ts';
import type { TlsFiles } from '../http/tls.ts';
import type { Sealer } from '../core/sealed.ts';
import { registerRegistrationTokenRoute } from './registration-token-route.ts';
import { loadOrCreateRegistrationKey, type RegistrationKeyCredential } from './registration-key.ts';
import { registerCatalogRoutes, registerTenantSubscriptionRoutes } from './offers/routes.ts';
import type { OffersContext } from './offers/context.ts';
import type { OffersTables } from './offers/tables.ts';
import { UsageBridge } from './bridge/job.ts';
import type { BridgeTables } from './bridge/tables.ts';
import { registerBridgeRoutes } from './bridge/routes.ts';
import { quarantineForArchive } from './bridge/store.ts';
import { meteringWork } from './metering/job.ts';
import { registerArchiveRoutes } from './metering/routes.ts';
import type { MeteringTables } from './metering/tables.ts';
import { registerLateReportRoutes, registerResourceRoutes } from './resources/routes.ts';
import {
  deleteResourcesOfGroup,
  resourceLister,
  resyncSubscription,
  type ResourcesContext,
} from './resources/service.ts';
import type { ResourcesTables } from './resources/tables.ts';
import { RESOURCE_TYPES } from './resources/types/index.ts';
import { registerImageRoutes } from './images/routes.ts';
import { resourceLinks } from './network/links.ts';
import { NETWORK_TYPES, registerNetworkRoutes } from './network/routes.ts';
import { combinedLister, deleteNetworkOfGroup, type NetworkContext } from './network/service.ts';
import type { NetworkTables } from './network/tables.ts';
import { registerDeploymentRoutes } from './deployments/routes.ts';
import { failInterruptedDeployments, type DeploymentsContext } from './deployments/service.ts';
import { deploymentsStore } from './deployments/store.ts';
import type { DeploymentsTables } from './deployments/tables.ts';
import { registerProviderUsageRoutes, registerTenantUsageRoutes } from './usage/routes.ts';
import { registerTenancyRoutes } from './tenancy/routes.ts';
import { Admission, type StackApplication, type TenancyContext } from './tenancy/service.ts';
import { directoryObjectType } from './tenancy/directory-objects.ts';
import type { TenancyTables } from './tenancy/tables.ts';

// A stack: one private-cloud deployment, with an operator (admin) ARM endpoint and a tenant ARM
// endpoint, each its own HTTPS server and audience. It trusts the hub's tokens, checking them
// against the keys the hub publishes, and meets the hub only over HTTP.

export type StackTables = ArmTables &
  TenancyTables &
  OffersTables &
  ResourcesTables &
  MeteringTables &
  NetworkTables &
  BridgeTables &
  PricingTables &
  DeploymentsTables;

export interface StackEndpoints {
  adminArm: string;
  tenantArm: string;
}

export interface HubLink {
  arm: () => string;
  /** The hub's Azure AD-style login base. */
  login: () => string;
  /** The authority the hub's metadata names (AD FS-style by default): the stack's metadata names the same. */
  authority: () => string;
  graph: () => string;
  portal: () => string;
  http: HttpClient;
}

export interface StackOptions {
  name: string;
  /** Seals the secrets the stack keeps in its database (its registration key). */
  sealer: Sealer;
  location: string;
  db: Kysely<StackTables>;
  /** The same database's pool: archiving a month streams it with COPY in its transaction. */
  pool: pg.Pool;
  /** Where archived months of usage go (a folder of the stack's data folder). */
  archiveDir: string;
  scheduler: WorkScheduler;
  logger: Logger;
  tls?: TlsFiles;
  endpoints: () => StackEndpoints;
  hub: HubLink;
  /** The operator's directory, the deployment's home directory. */
  homeDirectory: () => string | undefined;
  /** The deployment's cloud id. */
  cloudId: () => string | undefined;
  /** The stack's own application in the operator's directory. */
  application: StackApplication;
  providerSubscriptionId: () => string | undefined;
  /** The object id of the stack application's service principal in its home directory: the registration's objectId. */
  servicePrincipalId: () => string | undefined;
}

export interface Stack {
  admin: FastifyInstance;
  tenant: FastifyInstance;
  arm: ArmContext;
  offers: OffersContext;
  resources: ResourcesContext;
  /** The certificate the stack's application publishes, which verifies its registration tokens. */
  registrationKeyCredential: RegistrationKeyCredential;
}

/** The scheduler's lane of a stack's work: its own database, beside the other stacks' work. */
export const stackLane = (name: string): string => `stack ${name}`;

export async function createStack(opts: StackOptions): Promise<Stack> {
  const clock = opts.scheduler.clock;
  const arm: ArmContext = {
    db: opts.db,
    clock,
    locations: () => [opts.location],
    tenantsOf: async (p, cursor) => tenantPage({ tenantId: p.tenantId }, cursor),
    principalType: (id, tenantId) =>
      directoryObjectType(
        { http: opts.hub.http, login: opts.hub.login, graph: opts.hub.graph },
        opts.application,
        tenantId,
        id,
      ),
    // The network's first: its subscription lock is taken before any of the group's rows is touched.
    // The group's transaction, on the stack's one database: typed with all its tables.
    onResourceGroupDeleted: async (armDb, subscriptionId, group) => {
      const db = armDb.withTables<TablesOf<Kysely<StackTables>>>();
      await deleteNetworkOfGroup(network, NETWORK_TYPES, db, subscriptionId, group);
      await deleteResourcesOfGroup(resources, db, subscriptionId, group, RESOURCE_TYPES);
      await deploymentsStore.deleteOfGroup(db, subscriptionId, group);
    },
  };
  const registrationKey = await loadOrCreateRegistrationKey(opts.db, opts.sealer, opts.name);
  const keys = remoteKeySet(opts.hub.http, () => `${opts.hub.login()}/common/discovery/keys`);
  const verifier = new HubTokenVerifier(keys, opts.hub.login);
  const tenancy: TenancyContext = {
    arm,
    db: opts.db,
    hub: { http: opts.hub.http, login: opts.hub.login, graph: opts.hub.graph },
    app: opts.application,
    homeDirectory: opts.homeDirectory,
    providerSubscriptionId: opts.providerSubscriptionId,
  };
  const admission = new Admission(tenancy);
  const offers: OffersContext = {
    arm,
    db: opts.db,
    providerSubscriptionId: opts.providerSubscriptionId,
    findUser: async (tenantId, upn) => {
      // The stack's application reads the directory it was admitted to (its home, or a consented guest).
      const appId = opts.application.appId();
      const secret = opts.application.secret();
      if (!appId || !secret) return undefined;
      const token = await requestAppToken(
        opts.hub.http,
        opts.hub.login(),
        { tenantId, clientId: appId, clientSecret: secret },
        opts.hub.graph(),
      );
      if (token.status !== 200) return undefined;
      const user = await opts.hub.http.send('GET', `${opts.hub.graph()}/v1.0/users/${encodeURIComponent(upn)}`, {
        token: token.body.access_token,
      });
      return user.status === 200 ? (user.body.id as string) : undefined;
    },
    onSubscriptionStateChanged: (id) => resyncSubscription(resources, id, RESOURCE_TYPES),
  };
  const resources: ResourcesContext = {
    arm,
    db: opts.db,
    offers,
    links: resourceLinks,
    sealer: opts.sealer,
  };
  const network: NetworkContext = { arm, db: opts.db, offers, resources };
  const deployments: DeploymentsContext = {
    arm,
    db: opts.db,
    running: { count: 0 },
    logError: (err, message) => opts.logger.error({ err, stack: opts.name }, message),
  };
  const interrupted = await failInterruptedDeployments(deployments);
  if (interrupted > 0)
    opts.logger.warn({ stack: opts.name, interrupted }, 'deployments cut off by a stop were marked Failed');
  const bridge = new UsageBridge({
    db: opts.db,
    http: opts.hub.http,
    hubArm: opts.hub.arm,
    hubLogin: opts.hub.login,
    homeDirectory: opts.homeDirectory,
    application: opts.application,
    cloudId: opts.cloudId,
  });
  // Hours close, then their usage goes to the hub: one lock for both, in that order.
  opts.scheduler.register(oneProcessAtATime(opts.db, meteringWork(opts.db), bridge.work()), stackLane(opts.name));

  const build = async (which: keyof StackEndpoints): Promise<FastifyInstance> => {
    const app = createServer({ tls: opts.tls, logger: opts.logger.child({ stack: opts.name, endpoint: which }) });
    // The hub's portal calls this endpoint from the browser: CORS for that origin only (preflight
    // answered before authentication, which a preflight never carries).
    await app.register(cors, {
      origin: (origin, done) => done(null, origin !== undefined && origin === new URL(opts.hub.portal()).origin),
      methods: ['GET', 'PUT', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'x-ms-client-request-id'],
      exposedHeaders: ['x-ms-request-id', 'azure-asyncoperation', 'location', 'retry-after'],
      maxAge: 600,
    });
    const providers = {
      ctx: arm,
      baseUrl: () => opts.endpoints()[which],
      routes: () => routeTable(app),
      resources: combinedLister(network, resourceLister(resources)),
    };
    await app.register(
      scope((armApp) => {
        armEndpoint(armApp, {
          unknownRoute: catalogOf(providers).unknownRoute,
          baseUrl: () => opts.endpoints()[which],
          audiences: () => [opts.endpoints()[which]],
          authorizationUri: () => `${opts.hub.login()}/${opts.homeDirectory() ?? 'common'}`,
          verifier,
          admit: (p) => admission.admit(p),
        });
        registerProviderRoutes(armApp, providers);
        registerArmBaseRoutes(armApp, {
          ctx: arm,
          baseUrl: () => opts.endpoints()[which],
          metadata: () => ({
            galleryEndpoint: opts.hub.portal(),
            graphEndpoint: opts.hub.graph(),
            portalEndpoint: opts.hub.portal(),
            loginEndpoint: opts.hub.authority(),
            aadLoginEndpoint: opts.hub.login(),
            audiences: [opts.endpoints()[which]],
          }),
        });
        if (which === 'adminArm') {
          const operator = systemRights(arm);
          registerSystemRoutes(armApp, opts.scheduler, operator);
          registerRegistrationTokenRoute(
            armApp,
            operator,
            opts.name,
            () => opts.cloudId(),
            opts.servicePrincipalId,
            registrationKey.signer,
          );
          registerTenancyRoutes(armApp, tenancy, admission, () => opts.endpoints()[which]);
          registerCatalogRoutes(armApp, offers, () => opts.endpoints()[which]);
          registerProviderUsageRoutes(
            armApp,
            arm,
            operator,
            opts.db,
            () => opts.endpoints()[which],
            opts.providerSubscriptionId,
          );
          registerLateReportRoutes(armApp, resources);
          registerBridgeRoutes(
            armApp,
            bridge,
            { stack: opts.name, cloudId: opts.cloudId, now: () => clock.now(), baseUrl: () => opts.endpoints()[which] },
            operator,
          );
          registerArchiveRoutes(
            armApp,
            { pool: opts.pool, dir: opts.archiveDir, quarantine: quarantineForArchive, clock },
            operator,
          );
          registerChargebackRoutes(
            armApp,
            { db: opts.db, arm, operator, providerSubscriptionId: opts.providerSubscriptionId },
            () => opts.endpoints()[which],
          );
          registerDeploymentRoutes(armApp, deployments, () => opts.endpoints()[which]);
        } else {
          registerTenantSubscriptionRoutes(armApp, offers, () => opts.endpoints()[which]);
          registerResourceRoutes(armApp, resources, () => opts.endpoints()[which]);
          registerNetworkRoutes(armApp, network, () => opts.endpoints()[which]);
          registerImageRoutes(armApp, resources);
          registerTenantUsageRoutes(armApp, arm, opts.db, () => opts.endpoints()[which]);
          registerDeploymentRoutes(armApp, deployments, () => opts.endpoints()[which]);
        }
      }),
    );
    return app;
  };

  return {
    admin: await build('adminArm'),
    tenant: await build('tenantArm'),
    arm,
    offers,
    resources,
    registrationKeyCredential: registrationKey.keyCredential,
  };
}
