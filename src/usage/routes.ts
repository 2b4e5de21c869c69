import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { parseInstant } from '../core/clock.ts';
import { armError } from '../core/errors.ts';
import type { SystemRights } from '../arm/service.ts';
import { checkTags, TagsField } from '../core/tags.ts';
import { inOrder } from '../core/together.ts';
import { parseUsageQuery, usageAggregateJson } from '../core/usage-api.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { pagedList, pageOf, usagePage } from '../http/paging.ts';
import { ARCHIVE_READ, archiveBefore, archiveView, refuseArchivedUsage } from './archive.ts';
import { ARCHIVE_ORDER, archiveStore } from './archive-store.ts';
import { verifyLedger, verifyWholeLedger } from './ledger.ts';
import * as usage from './service.ts';
import { usageGroupOrder, usageStore } from './store.ts';

// Usage routes on the hub's ARM endpoint: the deployments' batch endpoint, the ledger check, and
// Microsoft.Commerce/UsageAggregates for customer and registration subscriptions.

const Record_ = Type.Object({
  resourceId: Type.String({ minLength: 1 }),
  resourceUri: Type.String({ minLength: 1 }),
  meterId: Type.String({ format: 'uuid' }),
  hour: Type.String({ minLength: 1 }),
  // what the stored columns hold: an int, and numeric(38, 9)
  revision: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
  quantity: Type.String({ pattern: '^-?\\d{1,29}(\\.\\d{1,9})?$' }),
  subscriptionId: Type.String({ format: 'uuid' }),
  tenantId: Type.String({ format: 'uuid' }),
  location: Type.String({ minLength: 1 }),
  // The same tag rule as every ARM resource: a deployment sends only tags that pass it.
  tags: TagsField,
  // A record may name its deployment; one of another deployment than the batch's is refused.
  cloudId: Type.Optional(Type.String()),
});
const BatchBody = Type.Object({
  cloudId: Type.String({ minLength: 1 }),
  batchId: Type.String({ format: 'uuid' }),
  records: Type.Array(Record_, { maxItems: 10_000 }),
});

/** The deployment each usage report comes from, as its rights were found before its body was read. */
const reporters = new WeakMap<FastifyRequest, usage.Reporter>();

export function registerUsageRoutes(
  app: FastifyInstance,
  ctx: usage.UsageContext,
  baseUrl: () => string,
  rights: SystemRights,
): void {
  const system = { apiVersions: API_VERSIONS.system, resourceType: 'Microsoft.AzureStack/usageReports' };
  app.post<{ Body: Static<typeof BatchBody> }>(
    '/providers/Microsoft.AzureStack/usageReports',
    {
      config: system,
      schema: { body: BatchBody },
      // Only a deployment may report: without the role, 403 whatever was sent.
      preParsing: async (request, _reply, payload) => {
        reporters.set(request, await usage.reporterOf(ctx, principalOf(request)));
        return payload;
      },
    },
    async (request) => {
      const records = request.body.records.map((r, i) => ({ ...r, tags: checkTags(r.tags, `records[${i}].tags`) }));
      const reporter = reporters.get(request) ?? (await usage.reporterOf(ctx, principalOf(request)));
      return usage.receiveBatch(ctx, reporter, { ...request.body, records });
    },
  );

  // What the hub received from one deployment, per hour and meter: the deployment reconciles its
  // outbox with it. The deployment itself, or a system administrator.
  app.get('/providers/Microsoft.AzureStack/usageReports/summary', { config: system }, async (request) =>
    usage.deploymentSummary(ctx, principalOf(request), {
      cloudId: queryValue(request, 'cloudId') ?? '',
      from: queryValue(request, 'from'),
      to: queryValue(request, 'to'),
    }),
  );

  // Usage from any external meter, as a CloudEvents JSON batch.
  const CloudEventBody = Type.Array(
    Type.Object({
      specversion: Type.String(),
      id: Type.String({ minLength: 1 }),
      source: Type.String({ minLength: 1 }),
      type: Type.String({ minLength: 1 }),
      subject: Type.Optional(Type.String()),
      time: Type.Optional(Type.String()),
      data: Type.Optional(Type.Object({})),
    }),
    { maxItems: 10_000 },
  );
  app.post<{ Body: usage.CloudEvent[] }>(
    '/providers/Stackledger.Usage/events',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.Usage/events' },
      schema: { body: CloudEventBody },
      // Who may post is decided before the body is read: without the right, 403 whatever was sent.
      preParsing: async (request, _reply, payload) => {
        await usage.mayPostEvents(ctx, principalOf(request));
        return payload;
      },
    },
    async (request) => usage.receiveEvents(ctx, principalOf(request), request.body),
  );

  app.get(
    '/providers/Stackledger.System/usage/verify',
    { config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/usage' } },
    async (request) => {
      const caller = principalOf(request);
      await rights.require(caller, ARCHIVE_READ);
      const bound = (name: string) => {
        const text = queryValue(request, name);
        if (text === undefined) return undefined;
        const t = parseInstant(text);
        if (!t) throw armError('InvalidTime', `'${text}' is not an ISO 8601 time.`, name);
        return t;
      };
      const from = bound('from');
      const to = bound('to');
      // Without a range: the whole ledger, from the maintained counters.
      if (!from && !to) return verifyWholeLedger(ctx);
      return verifyLedger(ctx, caller, from ?? new Date(0), to ?? new Date(8.64e15));
    },
  );

  app.post<{ Body: { from: string; to: string; cloudId?: string; asOf?: string } }>(
    '/providers/Stackledger.System/usage/reattribute',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/usage' },
      schema: {
        body: Type.Object({
          from: Type.String(),
          to: Type.String(),
          cloudId: Type.Optional(Type.String()),
          asOf: Type.Optional(Type.String()),
        }),
      },
    },
    async (request) => {
      await rights.require(principalOf(request), 'Stackledger.System/usage/reattribute/action');
      const time = (name: 'from' | 'to' | 'asOf') => {
        const text = request.body[name];
        if (text === undefined) return undefined;
        const t = parseInstant(text);
        if (!t) throw armError('InvalidTime', `'${text}' is not an ISO 8601 time.`, name);
        return t;
      };
      return usage.reattribute(ctx, {
        from: time('from')!,
        to: time('to')!,
        cloudId: request.body.cloudId,
        asOf: time('asOf'),
      });
    },
  );

  // Archiving closed, invoiced months: system administrators only.
  app.post(
    '/providers/Stackledger.System/usage/archive',
    { config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/usage' } },
    async (request) => {
      const caller = principalOf(request);
      await rights.require(caller, 'Stackledger.System/usage/archive/action');
      return archiveBefore({ ...ctx, clock: ctx.arm.clock }, caller, queryValue(request, 'before') ?? '');
    },
  );
  app.get(
    '/providers/Stackledger.System/usage/archives',
    { config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/usage' } },
    async (request) => {
      await rights.require(principalOf(request), ARCHIVE_READ);
      const page = pageOf(request, ARCHIVE_ORDER);
      return pagedList(request, baseUrl(), page, await archiveStore.page(ctx.db, page), archiveView);
    },
  );

  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.Commerce/UsageAggregates',
    { config: { apiVersions: ['2015-06-01-preview'], resourceType: 'UsageAggregates' } },
    async (request) => {
      const caller = principalOf(request);
      const sub = await usage.readableUsageSubscription(ctx, caller, request.params.subscriptionId);
      const q = parseUsageQuery((n) => queryValue(request, n), ctx.arm.clock.now());
      // The archive look-up and the page (both reads, after the rights check) run at once; an
      // archived range is still refused first, whatever else is wrong. Only system administrators
      // are told where an archive file lies.
      const [, page] = await inOrder(
        refuseArchivedUsage(ctx, caller, { from: q.start, to: q.end, by: 'reported' }),
        usagePage(
          request,
          baseUrl(),
          usageGroupOrder(q),
          (cursor) =>
            usageStore.aggregates(ctx.db, { ...q, subscriptionId: sub.subscription_id }, cursor, ctx.pageRecords),
          (r) => usageAggregateJson(r, q.granularity, 'Microsoft.Commerce'),
        ),
      );
      return page;
    },
  );
}
