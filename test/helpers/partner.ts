// The partner center steps that many tests start from: a customer with a CSP cloud subscription.
import type { TestSystem } from './system.ts';

export interface CustomerWithSubscription {
  customerId: string;
  subscriptionId: string;
  admin: { userName: string; password: string };
}

export async function customerWithSubscription(
  t: TestSystem,
  prefix: string,
  partnerToken?: string,
): Promise<CustomerWithSubscription> {
  const pc = t.b.hub.partnerCenter;
  const token = partnerToken ?? (await t.appToken('csp', pc));
  const customer = await t.http.call('POST', `${pc}/v1/customers`, {
    token,
    body: { companyProfile: { domain: prefix, companyName: `${prefix} Ltd` } },
  });
  const order = await t.http.call('POST', `${pc}/v1/customers/${customer.id}/orders`, {
    token,
    body: { lineItems: [{ offerId: 'MS-AZR-0145P', quantity: 1 }] },
  });
  return {
    customerId: customer.id,
    subscriptionId: order.lineItems[0].subscriptionId,
    admin: customer.userCredentials,
  };
}

/** A second partner onboarded by the system's administrators, with a token for the partner center. */
export async function secondPartner(t: TestSystem, prefix: string) {
  const partner = await t.http.call(
    'POST',
    `${t.b.hub.arm}/providers/Stackledger.System/partners?api-version=2026-11-01`,
    {
      token: await t.appToken('csp', t.b.hub.arm),
      body: { displayName: `${prefix} CSP`, domainPrefix: prefix },
    },
  );
  const token = async (resource: string) =>
    (
      await t.http.call('POST', `${t.b.hub.login}/${partner.tenantId}/oauth2/token`, {
        form: {
          grant_type: 'client_credentials',
          client_id: partner.clientId,
          client_secret: partner.clientSecret,
          resource,
        },
      })
    ).access_token as string;
  return { partner, token };
}
