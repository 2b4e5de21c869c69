import type { SystemRights } from '../arm/service.ts';
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from 'typebox';
import { createSubscription, inTransaction } from '../arm/service.ts';
import { recordChanges } from '../audit/service.ts';
import { API_VERSIONS } from '../core/api-versions.ts';
import { armError, armErrors } from '../core/errors.ts';
import { noteRightsChecked } from '../core/principal.ts';
import { principalOf } from '../http/arm.ts';
import { DIRECTORY_DOMAIN_INDEX, identityStore } from '../identity/store.ts';
import { onUniqueViolation } from '../db/database.ts';
import { customerDomain, PAY_AS_YOU_GO_OFFER_ID } from './rules.ts';
import type { PartnerContext } from './context.ts';
import { partnerStore } from './store.ts';

// Routes on the hub's ARM endpoint that belong to the partner side of the cloud:
// - the provider's onboarding of a new partner (system administrators only);
// - `Microsoft.Subscription/aliases`, with which a directory creates its own pay-as-you-go
//   subscription: a cloud subscription that no partner sold.

const PartnerBody = Type.Object({
  displayName: Type.String({ minLength: 1 }),
  domainPrefix: Type.String({ minLength: 1 }),
});
const AliasBody = Type.Object({
  properties: Type.Object({
    displayName: Type.Optional(Type.String()),
    workload: Type.Optional(Type.String()),
    billingScope: Type.Optional(Type.String()),
  }),
});

const ALIAS_API_VERSIONS = ['2020-09-01', '2021-10-01', '2024-08-01-preview'];

export function registerPartnerArmRoutes(app: FastifyInstance, ctx: PartnerContext, rights: SystemRights): void {
  app.post<{ Body: Static<typeof PartnerBody> }>(
    '/providers/Stackledger.System/partners',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/partners' },
      schema: { body: PartnerBody },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      await rights.require(caller, 'Stackledger.System/partners/write');
      const domain = customerDomain(request.body.domainPrefix, ctx.domainSuffix);
      const domainTaken = () =>
        armError('DomainAlreadyExists', `The domain '${domain}' is already in use by another directory.`);
      // Two at once meet the unique index instead of the check: the same 409.
      const created = await onUniqueViolation(
        [DIRECTORY_DOMAIN_INDEX],
        () =>
          inTransaction(ctx.db, async (db) => {
            if (await identityStore.findDirectoryByDomain(db, domain)) throw domainTaken();
            const partner = await ctx.identity.createAdministeredDirectory(
              request.body.displayName,
              domain,
              'partner',
              db,
            );
            await recordChanges(db, caller, ctx.arm.clock.now(), [
              {
                directoryId: partner.tenantId,
                partnerId: partner.tenantId,
                operation: 'CreatePartner',
                resourceType: 'Partner',
                resourceId: partner.tenantId,
                newValue: { displayName: request.body.displayName, domain },
              },
            ]);
            return partner;
          }),
        () => {
          throw domainTaken();
        },
      );
      const { servicePrincipalId: _sp, ...credentials } = created;
      return reply
        .status(201)
        .send({ ...credentials, admin: { userName: created.admin.userName, password: created.admin.password } });
    },
  );

  app.put<{ Params: { aliasName: string }; Body: Static<typeof AliasBody> }>(
    '/providers/Microsoft.Subscription/aliases/:aliasName',
    {
      config: { apiVersions: ALIAS_API_VERSIONS, resourceType: 'Microsoft.Subscription/aliases' },
      schema: { body: AliasBody },
    },
    async (request, reply) => {
      const caller = principalOf(request);
      // Self-service, as with a pay-as-you-go sign-up: a subscription of the caller's own directory, owned by it.
      noteRightsChecked(caller);
      const name = request.params.aliasName;
      const view = (subscriptionId: string) => ({
        id: `/providers/Microsoft.Subscription/aliases/${name}`,
        name,
        type: 'Microsoft.Subscription/aliases',
        properties: { subscriptionId, provisioningState: 'Succeeded' },
      });
      const result = await inTransaction(ctx.db, async (db) => {
        const existing = await partnerStore.getAlias(db, caller.tenantId, name);
        if (existing) return { subscriptionId: existing.subscription_id, created: false };
        if (!(await identityStore.getDirectory(db, caller.tenantId)))
          throw armError('InvalidTenant', `The directory '${caller.tenantId}' is unknown.`);
        const sub = await createSubscription(
          ctx.arm,
          {
            tenantId: caller.tenantId,
            displayName: request.body.properties.displayName ?? name,
            owners: [{ principalId: caller.objectId, principalType: caller.kind }],
            createdBy: caller.objectId,
            offerId: PAY_AS_YOU_GO_OFFER_ID,
          },
          db,
        );
        await partnerStore.insertAlias(db, {
          tenant_id: caller.tenantId,
          name,
          subscription_id: sub.subscription_id,
          created_at: ctx.arm.clock.now(),
        });
        await recordChanges(db, caller, ctx.arm.clock.now(), [
          {
            directoryId: caller.tenantId,
            operation: 'CreateSubscription',
            resourceType: 'Subscription',
            resourceId: sub.subscription_id,
            newValue: { offerId: PAY_AS_YOU_GO_OFFER_ID, displayName: sub.display_name },
          },
        ]);
        return { subscriptionId: sub.subscription_id, created: true };
      });
      return reply.status(result.created ? 201 : 200).send(view(result.subscriptionId));
    },
  );

  app.get<{ Params: { aliasName: string } }>(
    '/providers/Microsoft.Subscription/aliases/:aliasName',
    { config: { apiVersions: ALIAS_API_VERSIONS, resourceType: 'Microsoft.Subscription/aliases' } },
    async (request) => {
      const caller = principalOf(request);
      noteRightsChecked(caller); // the caller's own directory's aliases
      const alias = await partnerStore.getAlias(ctx.db, caller.tenantId, request.params.aliasName);
      if (!alias) throw armErrors.resourceNotFound('Microsoft.Subscription/aliases', request.params.aliasName);
      return {
        id: `/providers/Microsoft.Subscription/aliases/${request.params.aliasName}`,
        name: request.params.aliasName,
        type: 'Microsoft.Subscription/aliases',
        properties: { subscriptionId: alias.subscription_id, provisioningState: 'Succeeded' },
      };
    },
  );
}
