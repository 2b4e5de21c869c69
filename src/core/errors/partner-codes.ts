// Every error code the partner center answers, with its HTTP status. `partnerCenterError` looks the
// status up here; the partner center renders them as {"code","description","target"?}.

export const PARTNER_CENTER_CODES = {
  Forbidden: 403,
  // Request content and paging
  InvalidInput: 400,
  InvalidFilter: 400,
  InvalidDate: 400,
  InvalidSize: 400,
  InvalidContinuationToken: 400,
  // Customers, orders and subscriptions (partner/)
  DomainAlreadyExists: 409,
  CannotBeOwnCustomer: 409,
  InvalidDomain: 400,
  InvalidEmail: 400,
  InvalidReferenceCustomerId: 400,
  InvalidBillingCycle: 400,
  InvalidLineItems: 400,
  InvalidOfferId: 400,
  InvalidQuantity: 400,
  InvalidSubscriptionStatus: 400,
  QuantityChangeNotSupported: 400,
  SubscriptionStatusTransitionNotAllowed: 409,
  // Invoices (billing/partner-routes.ts)
  InvalidProvider: 400,
  InvalidInvoiceLineItemType: 400,
  InvalidCurrencyCode: 400,
  InvalidPeriod: 400,
  // What `partnerErrors.notFound` names
  CustomerNotFound: 404,
  InvoiceNotFound: 404,
  OfferNotFound: 404,
  OrderNotFound: 404,
  PartnerNotFound: 404,
  SubscriptionNotFound: 404,
} as const satisfies Record<string, number>;

export type PartnerCenterCode = keyof typeof PARTNER_CENTER_CODES;
