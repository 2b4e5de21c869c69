import type { Kysely } from 'kysely';
import { createSubscription, inTransaction, type ArmContext } from '../arm/service.ts';
import { armStore } from '../arm/store.ts';
import { recordChanges, type Change } from '../audit/service.ts';
import { isEmail, newGuid, newPassword } from '../core/ids.ts';
import { noteRightsChecked, type Principal } from '../core/principal.ts';
import { GLOBAL_ADMINISTRATOR, isOwnIdentity, requireDirectoryAdmin } from '../identity/graph.ts';
import type { IdentityService } from '../identity/service.ts';
import { DIRECTORY_DOMAIN_INDEX, identityStore, type IdentityDb } from '../identity/store.ts';
import { onUniqueViolation } from '../db/database.ts';
import type { ArmTables } from '../arm/tables.ts';
import type { AuditTables } from '../audit/tables.ts';
import type { DirectoriesTable, IdentityTables } from '../identity/tables.ts';
import type { UsageTables } from '../usage/tables.ts';
import { partnerCenterError } from '../core/errors.ts';
import { checkTransition, cloudStateOf, customerDomain, findOffer, partnerErrors } from './rules.ts';
import { partnerStore } from './store.ts';
import type {
  BillingProfile,
  CustomersTable,
  OrderLineItem,
  OrdersTable,
  PartnerSubscriptionsTable,
  PartnerTables,
} from './tables.ts';

// Use cases of the partner center. The partner is the caller's directory; every read and write is
// scoped to it, and what belongs to another partner answers 404, so that existence does not leak.

export interface PartnerContext {
  /**
   * The partner center's tables, and those of the domains it works through: identity, ARM and the
   * activity log (written with each change), usage (its utilization records).
   */
  db: Kysely<PartnerTables & IdentityTables & ArmTables & AuditTables & UsageTables>;
  identity: IdentityService;
  arm: ArmContext;
  domainSuffix: string;
}

/**
 * The partner a caller acts for (admin on behalf of): its directory, when that is a partner and the
 * caller one of the directory's own identities. A guest, or another directory's application
 * consented into the partner's directory (a stack's, say), acts for nobody.
 */
export async function actingPartner(db: IdentityDb, caller: Principal): Promise<DirectoriesTable | undefined> {
  noteRightsChecked(caller);
  const dir = await identityStore.getDirectory(db, caller.tenantId);
  return dir?.kind === 'partner' && (await isOwnIdentity(db, caller)) ? dir : undefined;
}

export async function requirePartner(ctx: PartnerContext, caller: Principal): Promise<DirectoriesTable> {
  const dir = await actingPartner(ctx.db, caller);
  if (!dir)
    throw partnerCenterError(
      'Forbidden',
      `The caller is not a partner of this cloud, nor one of a partner directory's own identities.`,
    );
  return dir;
}

export async function requireCustomer(
  ctx: PartnerContext,
  partner: string,
  customerId: string,
): Promise<CustomersTable> {
  const c = /^[0-9a-f-]{36}$/i.test(customerId)
    ? await partnerStore.getCustomer(ctx.db, partner, customerId.toLowerCase())
    : undefined;
  if (!c) throw partnerErrors.notFound('Customer', customerId);
  return c;
}

export interface NewCustomerInput {
  companyProfile: { domain: string; companyName?: string };
  billingProfile?: Partial<Omit<BillingProfile, 'id'>>;
}

export async function createCustomer(ctx: PartnerContext, caller: Principal, input: NewCustomerInput) {
  const partner = await requirePartner(ctx, caller);
  const domain = customerDomain(input.companyProfile.domain, ctx.domainSuffix);
  const bp = input.billingProfile ?? {};
  if (bp.email !== undefined && !isEmail(bp.email))
    throw partnerCenterError('InvalidEmail', `'${bp.email}' is not a valid email address.`, 'billingProfile.email');
  const companyName = input.companyProfile.companyName ?? bp.companyName ?? domain.split('.')[0];
  const now = ctx.arm.clock.now();
  const password = newPassword();
  const domainTaken = () =>
    partnerCenterError(
      'DomainAlreadyExists',
      `The domain '${domain}' is already in use by another directory.`,
      'companyProfile.domain',
    );
  // The check answers one request after another; the unique index answers two at once the same way.
  return onUniqueViolation(
    [DIRECTORY_DOMAIN_INDEX],
    () =>
      inTransaction(ctx.db, async (db) => {
        if (await identityStore.findDirectoryByDomain(db, domain)) throw domainTaken();
        const directory = await ctx.identity.createDirectory(
          { displayName: companyName, domain, kind: 'customer' },
          db,
        );
        const admin = await ctx.identity.createUser(
          {
            tenantId: directory.tenant_id,
            userPrincipalName: `admin@${domain}`,
            displayName: `${companyName} administrator`,
            password,
            directoryRole: GLOBAL_ADMINISTRATOR,
          },
          db,
        );
        const customer: CustomersTable = {
          id: directory.tenant_id,
          partner_tenant_id: partner.tenant_id,
          commerce_id: newGuid(),
          company_name: companyName,
          domain,
          billing_profile: {
            id: newGuid(),
            email: bp.email ?? `admin@${domain}`,
            culture: bp.culture ?? 'en-US',
            language: bp.language ?? 'en',
            companyName: bp.companyName ?? companyName,
            defaultAddress: bp.defaultAddress ?? {},
          },
          relationship: 'reseller',
          admin_object_id: admin.object_id,
          created_at: now,
          etag: newGuid(),
        };
        await partnerStore.insertCustomer(db, customer);
        await recordChanges(db, caller, now, [
          {
            directoryId: partner.tenant_id,
            partnerId: partner.tenant_id,
            operation: 'CreateCustomer',
            resourceType: 'Customer',
            resourceId: customer.id,
            newValue: customerRecord(customer),
          },
          {
            directoryId: customer.id,
            partnerId: partner.tenant_id,
            operation: 'Add user',
            resourceType: 'User',
            resourceId: admin.object_id,
            newValue: { userPrincipalName: admin.user_principal_name },
          },
        ]);
        return { customer, userCredentials: { userName: admin.user_principal_name, password } };
      }),
    () => {
      throw domainTaken();
    },
  );
}

/** The part of a customer that the activity log keeps (never credentials). */
function customerRecord(c: CustomersTable) {
  return {
    id: c.id,
    companyName: c.company_name,
    domain: c.domain,
    relationship: c.relationship,
    billingProfile: c.billing_profile,
  };
}

/**
 * A directory that already exists becomes a customer of a partner when its administrator accepts
 * the partner's relationship request: the partner then has a delegated relationship to it.
 */
export async function acceptRelationship(
  ctx: PartnerContext,
  caller: Principal,
  partnerTenantId: string,
): Promise<CustomersTable> {
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    const directory = await requireDirectoryAdmin(db, caller);
    const partner = /^[0-9a-f-]{36}$/i.test(partnerTenantId)
      ? await identityStore.getDirectory(db, partnerTenantId.toLowerCase())
      : undefined;
    if (partner?.kind !== 'partner') throw partnerErrors.notFound('Partner', partnerTenantId);
    if (partner.tenant_id === directory.tenant_id)
      throw partnerCenterError('CannotBeOwnCustomer', 'A partner cannot be its own customer.');
    const existing = await partnerStore.getCustomer(db, partner.tenant_id, directory.tenant_id);
    if (existing) return existing;
    const admin = caller.kind === 'User' ? await identityStore.getUser(db, caller.objectId) : undefined;
    const customer: CustomersTable = {
      id: directory.tenant_id,
      partner_tenant_id: partner.tenant_id,
      commerce_id: newGuid(),
      company_name: directory.display_name,
      domain: directory.default_domain,
      billing_profile: {
        id: newGuid(),
        email: admin?.user_principal_name ?? `admin@${directory.default_domain}`,
        culture: 'en-US',
        language: 'en',
        companyName: directory.display_name,
        defaultAddress: {},
      },
      relationship: 'delegated',
      admin_object_id: caller.objectId,
      created_at: now,
      etag: newGuid(),
    };
    await partnerStore.insertCustomer(db, customer);
    const change: Change = {
      directoryId: directory.tenant_id,
      partnerId: partner.tenant_id,
      operation: 'AcceptPartnerRelationship',
      resourceType: 'Customer',
      resourceId: customer.id,
      newValue: customerRecord(customer),
    };
    await recordChanges(db, caller, now, [change, { ...change, directoryId: partner.tenant_id }]);
    return customer;
  });
}

export interface OrderInput {
  referenceCustomerId?: string;
  billingCycle?: string;
  lineItems: { lineItemNumber?: number; offerId: string; quantity?: number; friendlyName?: string }[];
}

export async function createOrder(ctx: PartnerContext, caller: Principal, customerId: string, input: OrderInput) {
  const partner = await requirePartner(ctx, caller);
  const customer = await requireCustomer(ctx, partner.tenant_id, customerId);
  if (input.referenceCustomerId !== undefined && input.referenceCustomerId.toLowerCase() !== customer.id) {
    throw partnerCenterError(
      'InvalidReferenceCustomerId',
      `referenceCustomerId '${input.referenceCustomerId}' is not the customer of this order.`,
      'referenceCustomerId',
    );
  }
  const billingCycle = (input.billingCycle ?? 'monthly').toLowerCase();
  if (!['monthly', 'annual', 'none'].includes(billingCycle))
    throw partnerCenterError('InvalidBillingCycle', `'${input.billingCycle}' is not a billing cycle.`, 'billingCycle');
  if (input.lineItems.length === 0)
    throw partnerCenterError('InvalidLineItems', 'An order needs at least one line item.', 'lineItems');
  const items = input.lineItems.map((li, i) => {
    const offer = findOffer(li.offerId);
    if (!offer)
      throw partnerCenterError(
        'InvalidOfferId',
        `The offer '${li.offerId}' is not in the catalog.`,
        `lineItems[${i}].offerId`,
      );
    const quantity = li.quantity ?? 1;
    if (!Number.isInteger(quantity) || quantity < offer.minimumQuantity || quantity > offer.maximumQuantity) {
      throw partnerCenterError(
        'InvalidQuantity',
        `Quantity ${quantity} of offer '${offer.id}' must be from ${offer.minimumQuantity} to ${offer.maximumQuantity}.`,
        `lineItems[${i}].quantity`,
      );
    }
    return { offer, quantity, lineItemNumber: li.lineItemNumber ?? i, friendlyName: li.friendlyName ?? offer.name };
  });
  const now = ctx.arm.clock.now();
  return inTransaction(ctx.db, async (db) => {
    const order: OrdersTable = {
      id: newGuid(),
      customer_id: customer.id,
      partner_tenant_id: partner.tenant_id,
      billing_cycle: billingCycle,
      line_items: [],
      status: 'completed',
      created_at: now,
    };
    const subscriptions: PartnerSubscriptionsTable[] = [];
    for (const item of items) {
      const id = newGuid();
      order.line_items.push({
        lineItemNumber: item.lineItemNumber,
        offerId: item.offer.id,
        subscriptionId: id,
        friendlyName: item.friendlyName,
        quantity: item.quantity,
      } satisfies OrderLineItem);
      subscriptions.push({
        id,
        customer_id: customer.id,
        partner_tenant_id: partner.tenant_id,
        offer_id: item.offer.id,
        friendly_name: item.friendlyName,
        quantity: item.quantity,
        status: 'active',
        suspension_reasons: [],
        billing_cycle: billingCycle,
        order_id: order.id,
        created_at: now,
        updated_at: now,
        etag: newGuid(),
      });
    }
    await partnerStore.insertOrder(db, order);
    const changes: Change[] = [
      {
        directoryId: partner.tenant_id,
        partnerId: partner.tenant_id,
        operation: 'CreateOrder',
        resourceType: 'Order',
        resourceId: order.id,
        newValue: { customerId: customer.id, lineItems: order.line_items },
      },
    ];
    for (const sub of subscriptions) {
      await partnerStore.insertSubscription(db, sub);
      if (findOffer(sub.offer_id)!.billing === 'usage') {
        // A usage-based offer is a cloud subscription in the customer's directory, with the same id.
        await createSubscription(
          ctx.arm,
          {
            subscriptionId: sub.id,
            tenantId: customer.id,
            displayName: sub.friendly_name,
            owners: [{ principalId: customer.admin_object_id, principalType: 'User' }],
            createdBy: caller.objectId,
            offerId: sub.offer_id,
            soldBy: partner.tenant_id,
          },
          db,
        );
      }
      changes.push({
        directoryId: partner.tenant_id,
        partnerId: partner.tenant_id,
        operation: 'CreateSubscription',
        resourceType: 'Subscription',
        resourceId: sub.id,
        newValue: subscriptionRecord(sub),
      });
      changes.push({
        directoryId: customer.id,
        partnerId: partner.tenant_id,
        operation: 'CreateSubscription',
        resourceType: 'Subscription',
        resourceId: sub.id,
        newValue: subscriptionRecord(sub),
      });
    }
    await recordChanges(db, caller, now, changes);
    return { order, subscriptions };
  });
}

function subscriptionRecord(s: PartnerSubscriptionsTable) {
  return {
    id: s.id,
    customerId: s.customer_id,
    offerId: s.offer_id,
    friendlyName: s.friendly_name,
    quantity: s.quantity,
    status: s.status,
    suspensionReasons: s.suspension_reasons,
  };
}

export async function getSubscription(
  ctx: PartnerContext,
  caller: Principal,
  customerId: string,
  subscriptionId: string,
): Promise<PartnerSubscriptionsTable> {
  const partner = await requirePartner(ctx, caller);
  const customer = await requireCustomer(ctx, partner.tenant_id, customerId);
  const sub = /^[0-9a-f-]{36}$/i.test(subscriptionId)
    ? await partnerStore.getSubscription(ctx.db, partner.tenant_id, customer.id, subscriptionId.toLowerCase())
    : undefined;
  if (!sub) throw partnerErrors.notFound('Subscription', subscriptionId);
  return sub;
}

export interface SubscriptionPatch {
  status?: string;
  friendlyName?: string;
  quantity?: number;
}

export async function updateSubscription(
  ctx: PartnerContext,
  caller: Principal,
  customerId: string,
  subscriptionId: string,
  patch: SubscriptionPatch,
) {
  const current = await getSubscription(ctx, caller, customerId, subscriptionId);
  const status =
    patch.status === undefined ? current.status : checkTransition(current.status, patch.status.toLowerCase());
  if (current.status === 'deleted' && (patch.friendlyName ?? current.friendly_name) !== current.friendly_name) {
    throw partnerCenterError(
      'SubscriptionStatusTransitionNotAllowed',
      'A cancelled subscription cannot be changed.',
      'friendlyName',
    );
  }
  if (patch.quantity !== undefined && patch.quantity !== current.quantity) {
    throw partnerCenterError(
      'QuantityChangeNotSupported',
      `The quantity of subscription '${current.id}' cannot be changed here.`,
      'quantity',
    );
  }
  const next: PartnerSubscriptionsTable = {
    ...current,
    status,
    friendly_name: patch.friendlyName ?? current.friendly_name,
    suspension_reasons:
      status === 'suspended'
        ? current.status === 'suspended'
          ? current.suspension_reasons
          : ['PartnerInitiated']
        : [],
  };
  if (next.status === current.status && next.friendly_name === current.friendly_name) return current;
  const now = ctx.arm.clock.now();
  next.updated_at = now;
  next.etag = newGuid();
  return inTransaction(ctx.db, async (db) => {
    await partnerStore.updateSubscription(db, next);
    if (findOffer(next.offer_id)?.billing === 'usage' && next.status !== current.status) {
      await armStore.setSubscriptionState(db, next.id, cloudStateOf(next.status));
    }
    const change = {
      partnerId: current.partner_tenant_id,
      operation: 'UpdateSubscription',
      resourceType: 'Subscription',
      resourceId: next.id,
      oldValue: subscriptionRecord(current),
      newValue: subscriptionRecord(next),
    };
    await recordChanges(db, caller, now, [
      { ...change, directoryId: current.partner_tenant_id },
      { ...change, directoryId: current.customer_id },
    ]);
    return next;
  });
}
