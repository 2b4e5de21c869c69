import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { Logger } from 'pino';
import { catalogOf, registerProviderRoutes } from '../arm/provider-routes.ts';
import { registerArmBaseRoutes } from '../arm/routes.ts';
import type { ArmContext } from '../arm/service.ts';
import { OWNER } from '../arm/roles.ts';
import { inTransaction, systemRights } from '../arm/service.ts';
import { billingWork } from '../billing/job.ts';
import { registerPartnerInvoiceRoutes } from '../billing/partner-routes.ts';
import { registerBillingRoutes } from '../billing/routes.ts';
import { registerExportJobRoutes } from '../billing/export-job-routes.ts';
import {
  exportJobDefaults,
  exportRetentionWork,
  startExportWorker,
  type ExportJobContext,
  type ExportJobOptions,
} from '../billing/export-jobs.ts';
import type { BillingContext } from '../billing/context.ts';
import { oldestOpenPeriodStart } from '../billing/open-periods.ts';
import { recordChanges } from '../audit/service.ts';
import type { WorkScheduler } from '../core/scheduler.ts';
import { ADFS_PATH, adfsAuthorityOf, HubTokenVerifier, type IdentitySystem } from '../core/tokens.ts';
import { oneProcessAtATime, type TablesOf } from '../db/database.ts';
import {
  armEndpoint,
  renderGraphError,
  renderPartnerCenterError,
  type ArmEndpointOptions,
  type TokenVerifier,
} from '../http/arm.ts';
import { createServer, routeTable, scope } from '../http/server.ts';
import { registerSystemRoutes } from '../http/system-routes.ts';
import type { TlsFiles } from '../http/tls.ts';
import type { GraphContext } from '../identity/graph.ts';
import { registerGraphRoutes } from '../identity/graph-routes.ts';
import { registerAdfsRoutes, registerLoginRoutes } from '../identity/routes.ts';
import { IdentityService, type IdentityOptions } from '../identity/service.ts';
import { registerPartnerArmRoutes } from '../partner/admin-routes.ts';
import { usagePartitionWork } from '../usage/partitions.ts';
import { registerUsageRoutes } from '../usage/routes.ts';
import type { UsageContext } from '../usage/service.ts';
import { USAGE_PAGE_RECORDS } from '../core/usage-api.ts';
import { registerRegistrationRoutes } from '../registration/routes.ts';
import type { RegistrationContext } from '../registration/context.ts';
import { registrationLister, reportSharedCloudIds } from '../registration/registrations.ts';
import { verificationKey } from '../identity/key-credentials.ts';
import { registerPartnerCenterRoutes } from '../partner/routes.ts';
import { actingPartner, type PartnerContext } from '../partner/context.ts';
import { budgetWork } from '../budgets/job.ts';
import { registerBudgetRoutes } from '../budgets/routes.ts';
import type { BudgetContext } from '../budgets/service.ts';
import { startDeliveries, type DeliveryOptions } from '../notifications/delivery.ts';
import { registerNotificationRoutes } from '../notifications/routes.ts';
import type { NotificationContext } from '../notifications/service.ts';
import { portalConfig, registerPortal } from './portal.ts';
import type { HubTables } from './tables.ts';

// The hub: the cloud side. One HTTPS server; its endpoints are path prefixes of one origin, each
// with its own audience: ARM at the root, login, partner center, directory (graph), portal.

export type { HubTables };

export interface HubEndpoints {
  arm: string;
  /** The Azure AD-style login base: `{login}/{tenant}/oauth2/token`. */
  login: string;
  /** The AD FS-style authority (`{origin}/adfs`), which names no directory. */
  adfs: string;
  partnerCenter: string;
  graph: string;
  portal: string;
}

export const HUB_PATHS = { login: '/login', partnerCenter: '/partner', graph: '/graph', portal: '/portal' } as const;

export function hubEndpointsAt(origin: string): HubEndpoints {
  return {
    arm: origin,
    login: origin + HUB_PATHS.login,
    adfs: adfsAuthorityOf(origin + HUB_PATHS.login),
    partnerCenter: origin + HUB_PATHS.partnerCenter,
    graph: origin + HUB_PATHS.graph,
    portal: origin + HUB_PATHS.portal,
  };
}

/** The hub's own APIs, registered as first-party applications whose identifier URIs are their base URLs. */
export const HUB_RESOURCE_APPS = {
  arm: { appId: '797f4846-ba00-4fd7-ba43-dac1f8f63013', displayName: 'Stackledger Resource Manager' },
  partnerCenter: { appId: 'fa3d9a0c-8fb0-42cc-9193-47c7ecd2edbd', displayName: 'Stackledger Partner Center' },
  graph: { appId: '00000003-0000-0000-c000-000000000000', displayName: 'Stackledger Directory' },
} as const;

export interface HubOptions {
  db: Kysely<HubTables>;
  /** The pool behind `db`, for COPY (billing's exports). */
  pool: pg.Pool;
  scheduler: WorkScheduler;
  logger: Logger;
  tls?: TlsFiles;
  /** Known once the server listens. */
  endpoints: () => HubEndpoints;
  locations?: string[];
  /** Customer directories get domains `{prefix}.{domainSuffix}`. */
  domainSuffix: string;
  /** The sealer of the hub's secrets and the sign-in policy. */
  identity: IdentityOptions;
  /** Which authority the metadata endpoints name: AD FS-style (default, what unmodified MSAL clients accept) or Azure AD-style. */
  identitySystem?: IdentitySystem;
  /** How events reach webhooks (timeouts, retries, whether receivers may be internal). */
  webhooks?: DeliveryOptions;
  /** Where asynchronous exports write their files, how large and for how long. */
  exports: ExportJobOptions;
  /** Where `usage archive` writes its files (undefined: the hub archives nothing). */
  archiveDir?: string;
  /** Records a usage page without details reads at most (default `USAGE_PAGE_RECORDS`). */
  usagePageRecords?: number;
}

export interface Hub {
  app: FastifyInstance;
  identity: IdentityService;
  arm: ArmContext;
  /** Points the hub's first-party applications at the URLs it now serves. */
  publishEndpoints(): Promise<void>;
}

export async function createHub(opts: HubOptions): Promise<Hub> {
  const clock = opts.scheduler.clock;
  const identity = new IdentityService(opts.db, clock, () => opts.endpoints().login, opts.identity);
  await identity.init();
  const arm: ArmContext = {
    db: opts.db,
    clock,
    locations: () => opts.locations ?? ['global'],
    tenantsOf: (p, cursor) => identity.tenantsOf(p, cursor),
    principalType: (id) => identity.principalType(id),
    // Admin on behalf of: the partner that sold a subscription manages it with its own identities.
    implicitRoles: async (p, sub) =>
      sub.sold_by && sub.sold_by === p.tenantId && (await actingPartner(opts.db, p)) ? [OWNER] : [],
    recordChange: (db, actor, sub, change) =>
      recordChanges(db.withTables<TablesOf<Kysely<HubTables>>>(), actor, clock.now(), [
        { ...change, directoryId: sub?.tenant_id ?? actor.tenantId, partnerId: sub?.sold_by ?? null },
      ]),
  };
  const partner: PartnerContext = {
    db: opts.db,
    identity,
    arm,
    domainSuffix: opts.domainSuffix,
    usagePageRecords: opts.usagePageRecords ?? USAGE_PAGE_RECORDS,
  };
  const graph: GraphContext = { identity, db: opts.db, transaction: (work) => inTransaction(opts.db, work) };
  const system = systemRights(arm);
  const registration: RegistrationContext = {
    arm,
    db: opts.db,
    system,
    signActivationKey: (claims) => identity.signClaims(claims, 'urn:stackledger:activation'),
    // Certificates are dated in real time, as tokens are, whatever the simulated clock says.
    deploymentKey: (servicePrincipalId, kid) => verificationKey(opts.db, servicePrincipalId, kid, new Date()),
  };
  await reportSharedCloudIds(registration, opts.logger);
  const billing: BillingContext = { db: opts.db, pool: opts.pool, clock, system };
  const usage: UsageContext = {
    arm,
    db: opts.db,
    oldestOpenPeriodStart: () => oldestOpenPeriodStart(billing),
    pool: opts.pool,
    archiveDir: opts.archiveDir,
    pageRecords: opts.usagePageRecords ?? USAGE_PAGE_RECORDS,
  };
  const budgets: BudgetContext = { db: opts.db, arm, billing };
  // A lane of its own: in one process with stacks (the demo, the tests), the fold of what came in
  // runs beside their closing and delivery instead of before it (it folds what has come by then).
  opts.scheduler.register(oneProcessAtATime(opts.db, usagePartitionWork(opts.db), budgetWork(budgets)), 'hub');
  opts.scheduler.register(oneProcessAtATime(opts.db, billingWork(billing)));
  const exportJobs: ExportJobContext = {
    ...billing,
    db: opts.db,
    exports: exportJobDefaults(opts.exports.dir, opts.exports),
  };
  opts.scheduler.register(exportRetentionWork(exportJobs));
  const exportWorker = startExportWorker(exportJobs, opts.logger);
  const deliveries = startDeliveries(opts.db, opts.identity.sealer, opts.logger, opts.webhooks);
  const notifications: NotificationContext = {
    db: opts.db,
    clock,
    system,
    sealer: opts.identity.sealer,
    allowInternalAddresses: opts.webhooks?.allowInternalAddresses ?? false,
    wake: deliveries.wake,
  };
  const verifier: TokenVerifier = new HubTokenVerifier(identity.keySet(), () => opts.endpoints().login);
  const app = createServer({ tls: opts.tls, logger: opts.logger });
  app.addHook('onClose', () => deliveries.stop());
  app.addHook('onClose', () => exportWorker.stop());

  await app.register(
    scope((login) => registerLoginRoutes(login, identity)),
    { prefix: HUB_PATHS.login },
  );
  await app.register(
    scope((adfs) => registerAdfsRoutes(adfs, identity)),
    { prefix: ADFS_PATH },
  );
  /** Mounts one of the hub's APIs: its own audience (its base URL), error shape and routes. */
  const mount = async (
    api: 'arm' | 'partnerCenter' | 'graph',
    render: ArmEndpointOptions['render'],
    routes: (scope: FastifyInstance, baseUrl: () => string) => void,
    unknownRoute?: ArmEndpointOptions['unknownRoute'],
  ) => {
    const baseUrl = () => opts.endpoints()[api];
    await app.register(
      scope((endpoint) => {
        armEndpoint(endpoint, {
          baseUrl,
          audiences: () => [baseUrl()],
          authorizationUri: () => `${opts.endpoints().login}/common`,
          verifier,
          render,
          unknownRoute,
        });
        routes(endpoint, baseUrl);
      }),
      { prefix: api === 'arm' ? '' : HUB_PATHS[api] },
    );
  };
  // The ARM endpoint's own routes: the root origin's, but the other APIs' under their paths.
  const otherApis = [...Object.values(HUB_PATHS), ADFS_PATH].map((p) => p.toLowerCase());
  const armRoutes = () =>
    routeTable(app).filter(
      (r) => !otherApis.some((p) => r.url.toLowerCase().startsWith(`${p}/`) || r.url.toLowerCase() === p),
    );
  const providers = { ctx: arm, routes: armRoutes, resources: registrationLister(registration) };
  await mount(
    'arm',
    undefined,
    (scope, baseUrl) => {
      registerProviderRoutes(scope, { ...providers, baseUrl });
      registerArmBaseRoutes(scope, {
        ctx: arm,
        baseUrl,
        metadata: () => {
          const e = opts.endpoints();
          const loginEndpoint = opts.identitySystem === 'aad' ? e.login : e.adfs;
          return {
            galleryEndpoint: e.portal,
            graphEndpoint: e.graph,
            portalEndpoint: e.portal,
            loginEndpoint,
            aadLoginEndpoint: e.login,
            audiences: [e.arm],
          };
        },
      });
      registerSystemRoutes(scope, opts.scheduler, system);
      registerPartnerArmRoutes(scope, partner, system);
      registerRegistrationRoutes(scope, registration, baseUrl);
      registerUsageRoutes(scope, usage, baseUrl, system);
      registerBillingRoutes(scope, billing, baseUrl);
      registerExportJobRoutes(scope, exportJobs, exportWorker.wake, baseUrl);
      registerNotificationRoutes(scope, notifications, baseUrl);
      registerBudgetRoutes(scope, budgets, baseUrl);
    },
    catalogOf(providers).unknownRoute,
  );
  await mount('partnerCenter', renderPartnerCenterError, (scope, baseUrl) => {
    registerPartnerCenterRoutes(scope, partner, baseUrl);
    registerPartnerInvoiceRoutes(scope, billing);
  });
  await mount('graph', renderGraphError, (scope, baseUrl) =>
    registerGraphRoutes(
      scope,
      graph,
      baseUrl,
      (id, tenant) => `${opts.endpoints().portal}/redeem?tenant=${tenant}&invitation=${id}`,
    ),
  );

  await app.register(
    scope((portal) => registerPortal(portal, () => portalConfig(opts.db, opts.endpoints(), clock))),
    {
      prefix: HUB_PATHS.portal,
    },
  );

  const publishEndpoints = async () => {
    const e = opts.endpoints();
    for (const [key, api] of Object.entries(HUB_RESOURCE_APPS)) {
      await identity.registerFirstPartyApi(api.appId, api.displayName, [e[key as keyof typeof HUB_RESOURCE_APPS]]);
    }
  };

  return { app, identity, arm, publishEndpoints };
}
