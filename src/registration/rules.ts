import { armError } from '../core/errors.ts';
import {
  BILLING_MODELS,
  readRegistrationToken,
  type BillingModel,
  type RegistrationTokenContent,
} from '../core/registration-token.ts';
import { isGuid } from '../core/ids.ts';
import { CSP_OFFER_ID } from '../core/offers.ts';

// Rules of registrations and their customer subscriptions, with the vendor's error codes
// ("Usage and billing registration error codes"). Pure functions.

export const registrationErrors = {
  registrationNotFound: (subscriptionId: string, resourceGroup: string, name: string) =>
    armError(
      'RegistrationNotFound',
      `The registration '${name}' was not found in resource group '${resourceGroup}' of subscription '${subscriptionId}'. Register the deployment before adding customer subscriptions.`,
    ),
  invalidCustomerSubscriptionId: (id: string) =>
    armError(
      'InvalidCustomerSubscriptionId',
      `The customer subscription '${id}' is not a valid cloud subscription.`,
      'customerSubscriptionName',
    ),
  badCustomerSubscriptionId: (id: string, registrationSubscriptionId: string) =>
    armError(
      'BadCustomerSubscriptionId',
      `The customer subscription '${id}' was sold by a different CSP partner than the one that owns the registration subscription '${registrationSubscriptionId}'; only the partner that runs the deployment can bill its usage.`,
      'customerSubscriptionName',
    ),
  invalidCspSubscription: (id: string) =>
    armError(
      'InvalidCSPSubscription',
      `The subscription '${id}' is not a CSP subscription: it was not bought from a partner under the CSP offer.`,
      'customerSubscriptionName',
    ),
  customerSubscriptionNotFound: (id: string, registration: string) =>
    armError(
      'CustomerSubscriptionNotFound',
      `The customer subscription '${id}' is not linked to the registration '${registration}'.`,
    ),
  unauthorizedCspRegistration: (registration: string) =>
    armError(
      'UnauthorizedCspRegistration',
      `The registration '${registration}' has not been approved for multi-tenancy by the provider; it must be approved before customer subscriptions can be added.`,
    ),
  customerSubscriptionsNotAllowed: (registration: string, model: string) =>
    armError(
      'CustomerSubscriptionsNotAllowed',
      `The registration '${registration}' uses the '${model}' billing model; only pay-as-you-use registrations can add customer subscriptions.`,
    ),
  metadataResolverBadGateway: (id: string) =>
    armError(
      'MetadataResolverBadGatewayError',
      `Resolving the metadata of subscription '${id}' failed upstream. Retry the request.`,
    ),
  invalidRegistrationToken: (why: string) =>
    armError(
      'InvalidRegistrationToken',
      `The registration token is not valid: ${why}.`,
      'properties.registrationToken',
    ),
  /** One answer for every way a token can fail to come from a deployment, so that none is told apart. */
  untrustedRegistrationToken: () =>
    armError(
      'InvalidRegistrationToken',
      'The registration token is not valid: it was not issued by a deployment this cloud trusts. Get a new token from the deployment (Get-AzsRegistrationToken) and register with it.',
      'properties.registrationToken',
    ),
  registrationAlreadyExists: (cloudId: string) =>
    armError(
      'RegistrationAlreadyExists',
      `The deployment '${cloudId}' is already registered. A deployment has one registration: to move it, delete its registration first.`,
    ),
  tenantMismatch: (tenantId: string, id: string, actual: string) =>
    armError(
      'InvalidTenantId',
      `The tenant '${tenantId}' does not hold the customer subscription '${id}'; it lives in the directory '${actual}', the one its users must sign in to the stack with.`,
      'properties.tenantId',
    ),
};

/**
 * The content of a registration token, checked for shape only: CloudId, ObjectId (the deployment's
 * service principal, which signed it) and BillingModel. Whether the deployment signed it is the
 * service's question. An unsigned token (the old base64 JSON) is not a registration token.
 */
export function registrationTokenContent(token: string): {
  content: RegistrationTokenContent & { ObjectId: string };
  kid: string;
} {
  const read = readRegistrationToken(token);
  if (!read)
    throw registrationErrors.invalidRegistrationToken(
      'it is not a token signed by a deployment; get a new one from the deployment',
    );
  const { header, content: parsed } = read;
  if (typeof header.kid !== 'string' || header.kid === '')
    throw registrationErrors.invalidRegistrationToken("its header names no signing key ('kid')");
  if (typeof parsed.CloudId !== 'string' || !isGuid(parsed.CloudId))
    throw registrationErrors.invalidRegistrationToken("'CloudId' must be a GUID");
  if (!BILLING_MODELS.includes(parsed.BillingModel as BillingModel)) {
    throw registrationErrors.invalidRegistrationToken(`'BillingModel' must be one of ${BILLING_MODELS.join(', ')}`);
  }
  if (typeof parsed.ObjectId !== 'string' || !isGuid(parsed.ObjectId))
    throw registrationErrors.invalidRegistrationToken("'ObjectId' must be a GUID");
  return { content: parsed as unknown as RegistrationTokenContent & { ObjectId: string }, kid: header.kid };
}

/** The cloud subscription facts that decide whether it may be linked. */
export interface CloudSubscriptionFacts {
  subscriptionId: string;
  tenantId: string;
  offerId: string | null;
  soldBy: string | null;
  state: string;
}

/**
 * Whether a customer subscription may be linked to a registration: the order of the checks is
 * the order of the vendor's table, from the registration to the subscription.
 */
export function checkLink(
  registration: { name: string; billing_model: string; multi_tenancy_approved: boolean },
  registrationSubscription: { subscription_id: string; tenant_id: string },
  customerSubscriptionId: string,
  customer: CloudSubscriptionFacts | undefined,
  tenantId: string | undefined,
): { tenantId: string } {
  if (registration.billing_model === 'Capacity')
    throw registrationErrors.customerSubscriptionsNotAllowed(registration.name, registration.billing_model);
  if (!registration.multi_tenancy_approved) throw registrationErrors.unauthorizedCspRegistration(registration.name);
  if (!customer || customer.state === 'Deleted')
    throw registrationErrors.invalidCustomerSubscriptionId(customerSubscriptionId);
  if (customer.offerId !== CSP_OFFER_ID || customer.soldBy === null)
    throw registrationErrors.invalidCspSubscription(customerSubscriptionId);
  if (customer.soldBy !== registrationSubscription.tenant_id) {
    throw registrationErrors.badCustomerSubscriptionId(
      customerSubscriptionId,
      registrationSubscription.subscription_id,
    );
  }
  if (tenantId !== undefined && tenantId.toLowerCase() !== customer.tenantId)
    throw registrationErrors.tenantMismatch(tenantId, customerSubscriptionId, customer.tenantId);
  return { tenantId: customer.tenantId };
}
