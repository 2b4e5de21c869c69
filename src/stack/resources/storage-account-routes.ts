import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { armErrors } from '../../core/errors.ts';
import { principalOf } from '../../http/arm.ts';
import type { ResourcesContext } from './service.ts';
import { field } from './rules.ts';
import {
  checkNameAvailability,
  listKeys,
  regenerateKey,
  setStorageUsage,
  storageAccounts,
} from './types/storage-accounts.ts';
import { resourceId } from './views.ts';

// The actions of storage accounts: the Storage RP's listKeys, regenerateKey and
// checkNameAvailability, and the storage service's report of the capacity an account uses.

type Ref = { subscriptionId: string; resourceGroupName: string; name: string };
const ref = (p: Ref) => ({ subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroupName, name: p.name });

/** A text field of a JSON body, or ARM's error naming it (read after the caller's rights are checked). */
function textField(body: unknown, name: string): string {
  const value = field(body, name);
  if (typeof value !== 'string' || value === '')
    throw armErrors.invalidRequestContent(`The request content was invalid: '${name}' is required.`, name);
  return value;
}

export function registerStorageAccountRoutes(app: FastifyInstance, ctx: ResourcesContext): void {
  const t = storageAccounts;
  const ACCOUNT = `/subscriptions/:subscriptionId/resourceGroups/:resourceGroupName/providers/${t.type}/:name`;
  const config = (action: string) => ({ apiVersions: [...t.apiVersions], resourceType: `${t.type}/${action}` });

  app.post<{ Params: Ref }>(`${ACCOUNT}/listKeys`, { config: config('listKeys') }, async (request) =>
    listKeys(ctx, principalOf(request), ref(request.params)),
  );

  app.post<{ Params: Ref; Body: unknown }>(
    `${ACCOUNT}/regenerateKey`,
    { config: config('regenerateKey') },
    async (request) =>
      regenerateKey(ctx, principalOf(request), ref(request.params), () => textField(request.body, 'keyName')),
  );

  app.post<{ Params: { subscriptionId: string }; Body: unknown }>(
    `/subscriptions/:subscriptionId/providers/${t.namespace}/checkNameAvailability`,
    { config: { apiVersions: [...t.apiVersions], resourceType: `${t.namespace}/checkNameAvailability` } },
    async (request) =>
      checkNameAvailability(ctx, principalOf(request), request.params.subscriptionId, () => ({
        name: textField(request.body, 'name'),
        type: field(request.body, 'type'),
      })),
  );

  // The storage service's report of data written to an account (what its capacity meters read).
  app.post<{ Params: Ref; Body: { blobGb?: number; tableGb?: number; queueGb?: number } }>(
    `${ACCOUNT}/usedCapacity`,
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: `${t.type}/usedCapacity` },
      schema: {
        body: Type.Object({
          blobGb: Type.Optional(Type.Number({ minimum: 0 })),
          tableGb: Type.Optional(Type.Number({ minimum: 0 })),
          queueGb: Type.Optional(Type.Number({ minimum: 0 })),
        }),
      },
    },
    async (request) => {
      const row = await setStorageUsage(ctx, principalOf(request), ref(request.params), request.body);
      return { id: resourceId(row), usedCapacity: row.properties.usage };
    },
  );
}
