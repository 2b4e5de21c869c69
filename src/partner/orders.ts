import { partnerCenterError } from '../core/errors.ts';
import { createSubscription, inTransaction } from '../arm/service.ts';
import { recordChanges, type Change } from '../audit/service.ts';
import { newGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { requireCustomer, requirePartner, type PartnerContext } from './context.ts';
import { findOffer } from './rules.ts';
import { partnerStore } from './store.ts';
import { subscriptionRecord } from './subscriptions.ts';
import type { OrderLineItem, OrdersTable, PartnerSubscriptionsTable } from './tables.ts';

// Orders: a partner buys offers of the catalog for a customer, each line a subscription (and, for
// a usage-based offer, a cloud subscription in the customer's directory).

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
