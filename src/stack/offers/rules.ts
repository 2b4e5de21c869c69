import { armError } from '../../core/errors.ts';
import type { PlansTable } from './tables.ts';

// Quotas, plans and offers: the kinds of quota, their fields and the defaults of a fresh
// deployment; the forms of their ids; the texts plans and offers share; the states of a tenant
// subscription. Pure functions.

export interface QuotaKind {
  provider: string;
  apiVersions: string[];
  /** Integer limits of this kind, with their defaults. */
  limits: Record<string, number>;
}

export const QUOTA_KINDS: readonly QuotaKind[] = [
  {
    provider: 'Microsoft.Compute.Admin',
    apiVersions: ['2015-12-01-preview', '2018-02-09', '2021-01-01'],
    limits: {
      availabilitySetCount: 10,
      coresLimit: 50,
      virtualMachineCount: 20,
      vmScaleSetCount: 10,
      maxAllocationStandardManagedDisksAndSnapshots: 2048,
      maxAllocationPremiumManagedDisksAndSnapshots: 2048,
    },
  },
  {
    provider: 'Microsoft.Storage.Admin',
    apiVersions: ['2015-12-01', '2019-08-08'],
    limits: { numberOfStorageAccounts: 20, capacityInGb: 2048 },
  },
  {
    provider: 'Microsoft.Network.Admin',
    apiVersions: ['2015-06-15'],
    limits: {
      maxPublicIpsPerSubscription: 20,
      maxVnetsPerSubscription: 50,
      maxVirtualNetworkGatewaysPerSubscription: 10,
      maxVirtualNetworkGatewayConnectionsPerSubscription: 10,
      maxLoadBalancersPerSubscription: 50,
      maxNicsPerSubscription: 100,
      maxSecurityGroupsPerSubscription: 50,
    },
  },
];

export function quotaKind(provider: string): QuotaKind {
  const kind = QUOTA_KINDS.find((k) => k.provider.toLowerCase() === provider.toLowerCase());
  if (!kind) throw new Error(`no quota kind ${provider}`);
  return kind;
}

export const offersErrors = {
  invalidQuota: (field: string, value: unknown) =>
    armError(
      'InvalidQuotaValue',
      `The quota value '${String(value)}' of '${field}' must be a whole number of at least 0.`,
      `properties.${field}`,
    ),
  quotaNotFound: (id: string) => armError('QuotaNotFound', `The quota '${id}' does not exist.`, 'properties.quotaIds'),
  planNotFound: (id: string) => armError('PlanNotFound', `The plan '${id}' does not exist.`, 'properties.basePlanIds'),
  planInUse: (name: string) =>
    armError('PlanInUse', `The plan '${name}' is used by an offer; remove it from the offer first.`),
  offerInUse: (name: string, count: number) =>
    armError('OfferInUse', `The offer '${name}' has ${count} subscription(s); decommission it instead of deleting it.`),
  offerNameTaken: (name: string) =>
    armError('OfferNameAlreadyExists', `An offer named '${name}' already exists on this deployment.`),
  offerNotAvailable: (id: string) =>
    armError(
      'OfferNotFound',
      `The offer '${id}' does not exist or is not public. List the offers you may take with GET /offers.`,
      'offerId',
    ),
  tooManySubscriptions: (offer: string, max: number) =>
    armError(
      'MaxSubscriptionsPerAccountReached',
      `The offer '${offer}' allows at most ${max} subscription(s) per account.`,
    ),
};

/** Validates and completes a quota's properties: given limits, defaults for the rest. */
export function quotaProperties(kind: QuotaKind, given: Record<string, unknown> | undefined): Record<string, number> {
  const out: Record<string, number> = { ...kind.limits };
  for (const [k, v] of Object.entries(given ?? {})) {
    if (!(k in kind.limits)) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw offersErrors.invalidQuota(k, v);
    out[k] = v;
  }
  return out;
}

/** What tenants see: `/delegatedProviders/default/offers/{name}`. */
export const tenantOfferId = (name: string) => `/delegatedProviders/default/offers/${name}`;

/** The offer name in a tenant offer id, or in an admin offer resource id. */
export function offerNameOf(offerId: string): string | undefined {
  const m = /\/offers\/([^/]+)$/i.exec(offerId.trim());
  return m?.[1];
}

export const quotaResourceId = (subscriptionId: string, provider: string, location: string, name: string) =>
  `/subscriptions/${subscriptionId}/providers/${provider}/locations/${location}/quotas/${name}`;

export const planResourceId = (subscriptionId: string, resourceGroup: string, name: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Subscriptions.Admin/plans/${name}`;

export const offerResourceId = (subscriptionId: string, resourceGroup: string, name: string) =>
  `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Subscriptions.Admin/offers/${name}`;

/** What plans and offers both carry to describe themselves. */
export interface CatalogTextInput {
  displayName?: string;
  description?: string;
  externalReferenceId?: string;
}

/** A plan's or offer's texts: given ones replace, missing ones keep what was there. */
export function catalogText(
  input: CatalogTextInput,
  existing: Pick<PlansTable, 'display_name' | 'description' | 'external_reference_id'> | undefined,
  name: string,
) {
  return {
    display_name: input.displayName ?? existing?.display_name ?? name,
    description: input.description ?? existing?.description ?? null,
    external_reference_id: input.externalReferenceId ?? existing?.external_reference_id ?? null,
  };
}

/** The states the operator may give a tenant subscription (suspending is `Disabled`). */
export const ADMIN_SUBSCRIPTION_STATES = ['Enabled', 'Disabled', 'Warned', 'PastDue', 'Deleted'];

/** Reads `/subscriptions/{s}/providers/{ns}/locations/{l}/quotas/{name}`. */
export function parseQuotaId(id: string): { provider: string; location: string; name: string } | undefined {
  const m = /^\/subscriptions\/[^/]+\/providers\/([^/]+)\/locations\/([^/]+)\/quotas\/([^/]+)$/i.exec(id.trim());
  return m ? { provider: m[1], location: m[2], name: m[3] } : undefined;
}

export function parsePlanId(id: string): { subscriptionId: string; resourceGroup: string; name: string } | undefined {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Subscriptions\.Admin\/plans\/([^/]+)$/i.exec(
      id.trim(),
    );
  return m ? { subscriptionId: m[1], resourceGroup: m[2], name: m[3] } : undefined;
}
