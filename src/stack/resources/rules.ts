import { ArmError, armErrors } from '../../core/errors.ts';

// The resource providers' errors and the rules every resource type shares.

export const resourceErrors = {
  invalidDomainNameLabel: (label: string, pattern: RegExp) =>
    new ArmError(
      400,
      'InvalidDomainNameLabel',
      `The domain name label ${label} is invalid. It must conform to the following regular expression: ${pattern.source}.`,
      'properties.dnsSettings.domainNameLabel',
    ),
  quotaExceeded: (what: string, limit: number, current: number, requested: number) =>
    new ArmError(
      409,
      'OperationNotAllowed',
      `Operation results in exceeding quota limits of ${what}. Maximum allowed: ${limit}, Current in use: ${current}, Additional requested: ${requested}.`,
    ),
  notRegistered: (namespace: string) =>
    new ArmError(
      409,
      'MissingSubscriptionRegistration',
      `The subscription is not registered to use namespace '${namespace}': its offer includes no quota for this service.`,
    ),
  invalidLocation: (location: string, allowed: string) =>
    new ArmError(
      400,
      'LocationNotAvailableForResourceType',
      `The provided location '${location}' is not available for this resource type. List of available regions for the resource type is '${allowed}'.`,
      'location',
    ),
  propertyChange: (property: string) =>
    new ArmError(409, 'PropertyChangeNotAllowed', `Changing property '${property}' is not allowed.`, property),
  invalidParameter: (message: string, target: string) => new ArmError(400, 'InvalidParameter', message, target),
  storageNameTaken: (name: string) =>
    new ArmError(409, 'StorageAccountAlreadyTaken', `The storage account named ${name} is already taken.`, 'name'),
  storageNameInvalid: (name: string) =>
    new ArmError(
      400,
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
  if (!found) throw resourceErrors.invalidLocation(String(requested), allowed.join(','));
  return found;
}

/** A property of a request's JSON object, its name compared without case as ARM does (`diskSizeGb` is `diskSizeGB`). */
export function field(object: unknown, name: string): unknown {
  if (typeof object !== 'object' || object === null) return undefined;
  const key = Object.keys(object).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (object as Record<string, unknown>)[key];
}
