import { partnerCenterError, type PartnerCenterCode } from '../core/errors.ts';
import { CSP_OFFER_ID } from '../core/offers.ts';

// Rules of the partner center: the offer catalog, subscription status transitions, domains and
// billing profiles. Pure functions.

export interface Offer {
  id: string;
  name: string;
  description: string;
  /** A usage-based cloud subscription (its id is a cloud subscription id) or a licence count. */
  billing: 'usage' | 'license';
  unitType: string;
  minimumQuantity: number;
  maximumQuantity: number;
  productName: string;
}

/** Offer ids of subscriptions that were not bought through a partner (the customer's own). */
export const PAY_AS_YOU_GO_OFFER_ID = 'MS-AZR-0003P';

export const OFFERS: readonly Offer[] = [
  {
    id: CSP_OFFER_ID,
    name: 'Microsoft Azure',
    description: 'A cloud subscription billed on usage, sold by a Cloud Solution Provider partner.',
    billing: 'usage',
    unitType: 'Usage-based',
    minimumQuantity: 1,
    maximumQuantity: 1,
    productName: 'Microsoft Azure',
  },
  {
    id: 'SL-SUPPORT-STD',
    name: 'Stack support, standard',
    description: "Per-seat support for the customer's people on the partner's stacks, billed monthly.",
    billing: 'license',
    unitType: 'Licenses',
    minimumQuantity: 1,
    maximumQuantity: 10000,
    productName: 'Stack support',
  },
];

export function findOffer(id: string): Offer | undefined {
  return OFFERS.find((o) => o.id.toLowerCase() === id.toLowerCase());
}

export type SubscriptionStatus = 'active' | 'suspended' | 'deleted';

const TRANSITIONS: Record<SubscriptionStatus, SubscriptionStatus[]> = {
  active: ['suspended', 'deleted'],
  suspended: ['active', 'deleted'],
  deleted: [],
};

/** What the partner center's not-found codes name: `Customer` for `CustomerNotFound`, … */
type SubjectOf<C> = C extends `${infer Subject}NotFound` ? Subject : never;
type NotFoundSubject = SubjectOf<PartnerCenterCode>;

export const partnerErrors = {
  notFound: (what: NotFoundSubject, id: string) =>
    partnerCenterError(`${what}NotFound`, `${what} '${id}' was not found.`),
};

export function checkTransition(from: SubscriptionStatus, to: string): SubscriptionStatus {
  if (!(to in TRANSITIONS)) {
    throw partnerCenterError(
      'InvalidSubscriptionStatus',
      `'${to}' is not a subscription status; use 'active', 'suspended' or 'deleted'.`,
      'status',
    );
  }
  const target = to as SubscriptionStatus;
  if (target !== from && !TRANSITIONS[from].includes(target)) {
    throw partnerCenterError(
      'SubscriptionStatusTransitionNotAllowed',
      `A subscription that is '${from}' cannot become '${target}'.`,
      'status',
    );
  }
  return target;
}

/** The state of the cloud subscription behind a partner center subscription. */
export function cloudStateOf(status: SubscriptionStatus): string {
  return status === 'active' ? 'Enabled' : status === 'suspended' ? 'Disabled' : 'Deleted';
}

/** `contoso` or `contoso.{suffix}` → `contoso.{suffix}`; anything else is refused. */
export function customerDomain(given: string, suffix: string): string {
  const d = given.trim().toLowerCase();
  const prefix = d.endsWith(`.${suffix}`) ? d.slice(0, -(suffix.length + 1)) : d;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(prefix)) {
    throw partnerCenterError(
      'InvalidDomain',
      `'${given}' is not a valid domain prefix: use 1 to 63 letters, digits or hyphens (not at either end), optionally followed by '.${suffix}'.`,
      'companyProfile.domain',
    );
  }
  return `${prefix}.${suffix}`;
}
