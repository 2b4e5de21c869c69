import { partnerCenterError } from '../core/errors.ts';
import { inTransaction } from '../arm/service.ts';
import { recordChanges, type Change } from '../audit/service.ts';
import { isEmail, newGuid, newPassword } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { GLOBAL_ADMINISTRATOR, requireDirectoryAdmin } from '../identity/graph.ts';
import { DIRECTORY_DOMAIN_INDEX, identityStore } from '../identity/store.ts';
import { onUniqueViolation } from '../db/database.ts';
import { requirePartner, type PartnerContext } from './context.ts';
import { customerDomain, partnerErrors } from './rules.ts';
import { partnerStore } from './store.ts';
import type { BillingProfile, CustomersTable } from './tables.ts';

// A partner's customers: a new directory created for one, or an existing directory whose
// administrator accepts the partner's relationship request.

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
