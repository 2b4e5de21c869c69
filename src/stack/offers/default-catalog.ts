import { armStore } from '../../arm/store.ts';
import { newGuid } from '../../core/ids.ts';
import type { OffersContext } from './context.ts';
import { planIdOf } from './plans.ts';
import { QUOTA_KINDS, quotaResourceId } from './rules.ts';
import { offersStore } from './store.ts';
import type { PlansTable } from './tables.ts';

/**
 * A fresh deployment's catalogue, so that a tenant can start at once: default compute, storage and
 * network quotas, a plan with them in the resource group `plans`, and a public offer of that plan.
 */
export async function createDefaultCatalog(ctx: OffersContext, providerSubscriptionId: string): Promise<void> {
  const location = ctx.arm.locations()[0];
  const now = ctx.arm.clock.now();
  const quotaIds: string[] = [];
  for (const kind of QUOTA_KINDS) {
    await offersStore.putQuota(ctx.db, {
      provider: kind.provider,
      location,
      name: 'default',
      name_key: 'default',
      subscription_id: providerSubscriptionId,
      properties: { ...kind.limits },
      created_at: now,
    });
    quotaIds.push(quotaResourceId(providerSubscriptionId, kind.provider, location, 'default'));
  }
  await armStore.upsertResourceGroup(ctx.arm.db, {
    subscription_id: providerSubscriptionId,
    name_key: 'plans',
    name: 'plans',
    location,
    tags: {},
    managed_by: null,
    created_at: now,
  });
  const plan: PlansTable = {
    id: newGuid(),
    subscription_id: providerSubscriptionId,
    resource_group: 'plans',
    resource_group_key: 'plans',
    name: 'base-plan',
    name_key: 'base-plan',
    display_name: 'Base plan',
    description: 'Compute, storage and network with the default quotas.',
    external_reference_id: null,
    quota_ids: quotaIds,
    sku_ids: [],
    created_at: now,
  };
  await offersStore.putPlan(ctx.db, plan, false);
  await offersStore.putOffer(
    ctx.db,
    {
      id: newGuid(),
      subscription_id: providerSubscriptionId,
      resource_group: 'plans',
      resource_group_key: 'plans',
      name: 'base-offer',
      name_key: 'base-offer',
      display_name: 'Base offer',
      description: 'Virtual machines, storage and public IP addresses on this deployment.',
      external_reference_id: null,
      state: 'Public',
      max_subscriptions_per_account: null,
      base_plan_ids: [planIdOf(plan)],
      addon_plans: [],
      created_at: now,
    },
    false,
  );
}
