import { armError, armErrors } from '../../core/errors.ts';

// The resource providers' errors and the rules every resource type shares.

export const resourceErrors = {
  invalidDomainNameLabel: (label: string, pattern: RegExp) =>
    armError(
      'InvalidDomainNameLabel',
      `The domain name label ${label} is invalid. It must conform to the following regular expression: ${pattern.source}.`,
      'properties.dnsSettings.domainNameLabel',
    ),
  quotaExceeded: (what: string, limit: number, current: number, requested: number) =>
    armError(
      'OperationNotAllowed',
      `Operation results in exceeding quota limits of ${what}. Maximum allowed: ${limit}, Current in use: ${current}, Additional requested: ${requested}.`,
    ),
  notRegistered: (namespace: string) =>
    armError(
      'MissingSubscriptionRegistration',
      `The subscription is not registered to use namespace '${namespace}': its offer includes no quota for this service.`,
    ),
  propertyChange: (property: string) =>
    armError('PropertyChangeNotAllowed', `Changing property '${property}' is not allowed.`, property),
  invalidParameter: (message: string, target: string) => armError('InvalidParameter', message, target),
  storageNameTaken: (name: string) =>
    armError('StorageAccountAlreadyTaken', `The storage account named ${name} is already taken.`, 'name'),
  storageNameInvalid: (name: string) =>
    armError(
      'AccountNameInvalid',
      `${name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.`,
      'name',
    ),
  notFound: (type: string, name: string, group: string) => armErrors.resourceNotFound(type, name, group),
};

/** The deployment's location a request names (case and spaces aside), or the ARM error. */
export function locationOf(requested: unknown, allowed: string[]): string {
  const found =
    typeof requested === 'string'
      ? allowed.find((l) => l.toLowerCase() === requested.toLowerCase().replaceAll(' ', ''))
      : undefined;
  if (!found) throw armErrors.locationNotAvailableForResourceType(String(requested), allowed.join(','));
  return found;
}

/** A property of a request's JSON object, its name compared without case as ARM does (`diskSizeGb` is `diskSizeGB`). */
export function field(object: unknown, name: string): unknown {
  if (typeof object !== 'object' || object === null) return undefined;
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (object as Record<string, unknown>)[key];
}
