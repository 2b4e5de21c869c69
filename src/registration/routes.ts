import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { checkTags, TagsField } from '../core/tags.ts';
import { principalOf } from '../http/arm.ts';
import { pagedList, pagedListRoute, pageOf } from '../http/paging.ts';
import { NAMED_ROW_ORDER } from '../db/named-rows.ts';
import { LIVE_LINK_ORDER } from './store.ts';
import { noteRightsChecked } from '../core/principal.ts';
import type { RegistrationContext } from './context.ts';
import {
  deleteCustomerSubscription,
  getCustomerSubscription,
  listCustomerSubscriptions,
  putCustomerSubscription,
} from './customer-subscriptions.ts';
import {
  activationKey,
  deleteRegistration,
  getRegistration,
  listRegistrations,
  patchRegistration,
  putRegistration,
  setMultiTenancyApproval,
} from './registrations.ts';
import { customerSubscriptionView, registrationView } from './views.ts';

// Routes of Microsoft.AzureStack on the hub's ARM endpoint.

export const AZURESTACK_API_VERSIONS = ['2017-06-01', '2020-06-01-preview', '2022-06-01'];
const regConfig = { apiVersions: AZURESTACK_API_VERSIONS, resourceType: 'registrations' };
const csConfig = { apiVersions: AZURESTACK_API_VERSIONS, resourceType: 'registrations/customerSubscriptions' };

const RegistrationBody = Type.Object({
  location: Type.String({ minLength: 1 }),
  tags: TagsField,
  properties: Type.Object({ registrationToken: Type.String({ minLength: 1 }) }),
});
const RegistrationPatchBody = Type.Object({
  location: Type.Optional(Type.String()),
  tags: TagsField,
  properties: Type.Optional(Type.Object({ registrationToken: Type.Optional(Type.String({ minLength: 1 })) })),
});
const CustomerSubscriptionBody = Type.Union([
  Type.Null(),
  Type.Object({
    etag: Type.Optional(Type.String()),
    location: Type.Optional(Type.String()),
    properties: Type.Optional(Type.Object({ tenantId: Type.Optional(Type.String()) })),
  }),
]);

type RegParams = { subscriptionId: string; resourceGroup: string; registrationName: string };
type CsParams = RegParams & { customerSubscriptionName: string };

const REG = '/subscriptions/:subscriptionId/resourceGroups/:resourceGroup/providers/Microsoft.AzureStack/registrations';
const ref = (p: RegParams) => ({
  subscriptionId: p.subscriptionId,
  resourceGroup: p.resourceGroup,
  name: p.registrationName,
});

export function registerRegistrationRoutes(
  app: FastifyInstance,
  ctx: RegistrationContext,
  baseUrl: () => string,
): void {
  // The provider's own description, for anyone signed in (as ARM's operations lists are).
  app.get(
    '/providers/Microsoft.AzureStack/operations',
    { config: { ...regConfig, resourceType: 'operations' } },
    async (request) => {
      noteRightsChecked(principalOf(request));
      return {
        value: [
          ['registrations/read', 'Gets the properties of an Azure Stack registration'],
          ['registrations/write', 'Creates or updates an Azure Stack registration'],
          ['registrations/delete', 'Deletes an Azure Stack registration'],
          ['registrations/getActivationKey/action', 'Gets the latest Azure Stack activation key'],
          ['registrations/customerSubscriptions/read', 'Gets the properties of an Azure Stack customer subscription'],
          ['registrations/customerSubscriptions/write', 'Creates or updates an Azure Stack customer subscription'],
          ['registrations/customerSubscriptions/delete', 'Deletes an Azure Stack customer subscription'],
        ].map(([op, description]) => ({
          name: `Microsoft.AzureStack/${op}`,
          display: {
            provider: 'Microsoft Azure Stack',
            resource: op.split('/').slice(0, -1).join('/'),
            operation: op,
            description,
          },
          origin: 'user,system',
        })),
      };
    },
  );

  app.get<{ Params: { subscriptionId: string } }>(
    '/subscriptions/:subscriptionId/providers/Microsoft.AzureStack/registrations',
    { config: regConfig },
    pagedListRoute(
      NAMED_ROW_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: { subscriptionId: string } }>, cursor) =>
        listRegistrations(ctx, principalOf(request), request.params.subscriptionId, undefined, cursor),
      registrationView,
    ),
  );

  app.get<{ Params: Omit<RegParams, 'registrationName'> }>(
    REG,
    { config: regConfig },
    pagedListRoute(
      NAMED_ROW_ORDER,
      baseUrl,
      (request: FastifyRequest<{ Params: Omit<RegParams, 'registrationName'> }>, cursor) =>
        listRegistrations(
          ctx,
          principalOf(request),
          request.params.subscriptionId,
          request.params.resourceGroup,
          cursor,
        ),
      registrationView,
    ),
  );

  app.put<{ Params: RegParams; Body: Static<typeof RegistrationBody> }>(
    `${REG}/:registrationName`,
    { config: regConfig, schema: { body: RegistrationBody } },
    async (request, reply) => {
      const body = { ...request.body, tags: checkTags(request.body.tags) };
      const { registration, created } = await putRegistration(ctx, principalOf(request), ref(request.params), body);
      return reply.status(created ? 201 : 200).send(registrationView(registration));
    },
  );

  app.patch<{ Params: RegParams; Body: Static<typeof RegistrationPatchBody> }>(
    `${REG}/:registrationName`,
    { config: regConfig, schema: { body: RegistrationPatchBody } },
    async (request) => {
      const body = { ...request.body, tags: checkTags(request.body.tags) };
      return registrationView(await patchRegistration(ctx, principalOf(request), ref(request.params), body));
    },
  );

  app.get<{ Params: RegParams }>(`${REG}/:registrationName`, { config: regConfig }, async (request) =>
    registrationView(await getRegistration(ctx, principalOf(request), ref(request.params))),
  );

  app.delete<{ Params: RegParams }>(`${REG}/:registrationName`, { config: regConfig }, async (request, reply) => {
    const deleted = await deleteRegistration(ctx, principalOf(request), ref(request.params));
    return reply.status(deleted ? 200 : 204).send();
  });

  app.post<{ Params: RegParams }>(
    `${REG}/:registrationName/getactivationkey`,
    { config: regConfig },
    async (request) => ({
      activationKey: await activationKey(ctx, principalOf(request), ref(request.params)),
    }),
  );

  for (const [action, approved] of [
    ['approveMultiTenancy', true],
    ['revokeMultiTenancy', false],
  ] as const) {
    app.post<{ Params: RegParams }>(
      `${REG}/:registrationName/${action}`,
      { config: { apiVersions: API_VERSIONS.system, resourceType: `registrations/${action}` } },
      async (request) =>
        registrationView(await setMultiTenancyApproval(ctx, principalOf(request), ref(request.params), approved)),
    );
  }

  app.get<{ Params: RegParams }>(
    `${REG}/:registrationName/customerSubscriptions`,
    { config: csConfig },
    async (request) => {
      const page = pageOf(request, LIVE_LINK_ORDER);
      const { registration, links } = await listCustomerSubscriptions(
        ctx,
        principalOf(request),
        ref(request.params),
        page,
      );
      return pagedList(request, baseUrl(), page, links, (l) => customerSubscriptionView(registration, l));
    },
  );

  app.put<{ Params: CsParams; Body: Static<typeof CustomerSubscriptionBody> }>(
    `${REG}/:registrationName/customerSubscriptions/:customerSubscriptionName`,
    { config: csConfig, schema: { body: CustomerSubscriptionBody } },
    async (request) => {
      const { registration, link } = await putCustomerSubscription(
        ctx,
        principalOf(request),
        ref(request.params),
        request.params.customerSubscriptionName,
        request.body ?? {},
      );
      // The spec's only success code for this PUT is 200, on create as on update.
      return {
        ...customerSubscriptionView(registration, link),
        properties: { tenantId: link.tenant_id, provisioningState: 'Succeeded' },
      };
    },
  );

  app.get<{ Params: CsParams }>(
    `${REG}/:registrationName/customerSubscriptions/:customerSubscriptionName`,
    { config: csConfig },
    async (request) => {
      const { registration, link } = await getCustomerSubscription(
        ctx,
        principalOf(request),
        ref(request.params),
        request.params.customerSubscriptionName,
      );
      return customerSubscriptionView(registration, link);
    },
  );

  app.delete<{ Params: CsParams }>(
    `${REG}/:registrationName/customerSubscriptions/:customerSubscriptionName`,
    { config: csConfig },
    async (request, reply) => {
      const deleted = await deleteCustomerSubscription(
        ctx,
        principalOf(request),
        ref(request.params),
        request.params.customerSubscriptionName,
      );
      return reply.status(deleted ? 200 : 204).send();
    },
  );
}
