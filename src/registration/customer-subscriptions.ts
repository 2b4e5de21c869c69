import { inTransaction } from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import { armErrors, armError } from '../core/errors.ts';
import { isGuid, newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { registrationScope, requireRegistration, type RegistrationContext, type RegistrationRef } from './context.ts';
import { checkLink, registrationErrors } from './rules.ts';
import { registrationStore } from './store.ts';
import type { Cursor } from '../core/paging.ts';
import type { CustomerSubscriptionLinksTable, RegistrationsTable } from './tables.ts';
import { retryOnceOnUniqueViolation } from '../db/database.ts';

// Use cases of a registration's customer subscriptions: effective-dated links of a customer's
// subscription to the deployment, from now on, ended (never deleted) when removed.

// A PUT that two callers send at once: the loser of the race to create runs again as the update.
export const putCustomerSubscription = (...args: Parameters<typeof putCustomerSubscriptionOnce>) =>
  retryOnceOnUniqueViolation(() => putCustomerSubscriptionOnce(...args));

export interface LinkInput {
  etag?: string;
  properties?: { tenantId?: string };
}

/** Links a customer subscription to a registration, from now on; the same link twice is one link. */
async function putCustomerSubscriptionOnce(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  name: string,
  input: LinkInput,
) {
  const reg = await requireRegistration(
    ctx,
    principal,
    ref,
    'Microsoft.AzureStack/registrations/customerSubscriptions/write',
  );
  const regSub = (await armStore.getSubscription(ctx.arm.db, reg.subscription_id))!;
  const tenantId = input.properties?.tenantId;
  if (tenantId !== undefined && !isGuid(tenantId))
    throw armErrors.invalidRequestContent(`The tenantId '${tenantId}' is not a GUID.`, 'properties.tenantId');
  let facts: Awaited<ReturnType<typeof armStore.settledSubscription>> | undefined;
  if (isGuid(name)) {
    try {
      facts = await armStore.settledSubscription(ctx.arm.db, name.toLowerCase());
    } catch {
      throw registrationErrors.metadataResolverBadGateway(name);
    }
  }
  const decided = checkLink(
    reg,
    regSub,
    name,
    facts && {
      subscriptionId: facts.subscription_id,
      tenantId: facts.tenant_id,
      offerId: facts.offer_id ?? null,
      soldBy: facts.sold_by ?? null,
      state: facts.state,
    },
    tenantId,
  );
  const customerSubscriptionId = name.toLowerCase();
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    const live = await registrationStore.liveLink(db, reg.id, customerSubscriptionId);
    if (live) {
      if (input.etag !== undefined && input.etag !== live.etag) {
        throw armError(
          'PreconditionFailed',
          `The etag '${input.etag}' does not match the current etag '${live.etag}' of the customer subscription.`,
        );
      }
      return { registration: reg, link: live };
    }
    const row = {
      registration_id: reg.id,
      cloud_id: reg.cloud_id,
      customer_subscription_id: customerSubscriptionId,
      name,
      tenant_id: decided.tenantId,
      etag: newGuid(),
      valid_from: now,
      valid_to: null,
      created_by: principal.objectId,
      ended_by: null,
    };
    await registrationStore.insertLink(db, row);
    await ctx.arm.recordChange?.(db, principal, regSub, {
      operation: 'Add customer subscription',
      resourceType: 'Microsoft.AzureStack/registrations/customerSubscriptions',
      resourceId: `${registrationScope(ref)}/customerSubscriptions/${name}`,
      newValue: { tenantId: row.tenant_id, validFrom: now.toISOString() },
    });
    return { registration: reg, link: (await registrationStore.liveLink(db, reg.id, customerSubscriptionId))! };
  });
}

export async function getCustomerSubscription(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  name: string,
): Promise<{ registration: RegistrationsTable; link: CustomerSubscriptionLinksTable }> {
  const reg = await requireRegistration(
    ctx,
    principal,
    ref,
    'Microsoft.AzureStack/registrations/customerSubscriptions/read',
  );
  const link = isGuid(name) ? await registrationStore.liveLink(ctx.db, reg.id, name.toLowerCase()) : undefined;
  if (!link) throw registrationErrors.customerSubscriptionNotFound(name, reg.name);
  return { registration: reg, link };
}

export async function listCustomerSubscriptions(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  cursor: Cursor,
) {
  const reg = await requireRegistration(
    ctx,
    principal,
    ref,
    'Microsoft.AzureStack/registrations/customerSubscriptions/read',
  );
  return { registration: reg, links: await registrationStore.liveLinks(ctx.db, reg.id, cursor) };
}

/** Ends a link now; the history keeps it. Says whether there was one. */
export async function deleteCustomerSubscription(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  name: string,
): Promise<boolean> {
  const reg = await requireRegistration(
    ctx,
    principal,
    ref,
    'Microsoft.AzureStack/registrations/customerSubscriptions/delete',
  );
  const regSub = (await armStore.getSubscription(ctx.arm.db, reg.subscription_id))!;
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    const link = isGuid(name) ? await registrationStore.liveLink(db, reg.id, name.toLowerCase()) : undefined;
    if (!link) return false;
    await registrationStore.endLink(db, link.id, now, principal.objectId);
    await ctx.arm.recordChange?.(db, principal, regSub, {
      operation: 'Remove customer subscription',
      resourceType: 'Microsoft.AzureStack/registrations/customerSubscriptions',
      resourceId: `${registrationScope(ref)}/customerSubscriptions/${name}`,
      oldValue: { tenantId: link.tenant_id, validFrom: link.valid_from.toISOString() },
    });
    return true;
  });
}
