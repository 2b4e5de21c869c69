// The one place where errors are made, one factory per API family, each with its codes in one table
// (src/core/errors/): ARM's (`armError`), the partner center's (`partnerCenterError`) and the
// directory API's (`graphError`) are `ArmError`s, which each context renders in its API's shape;
// the token endpoint's are `OAuthError`s (`oauthError`). A factory takes a code from its table and
// looks its status up there, so a code has one status and an unknown code does not compile.
import { ARM_CODES, type ArmCode } from './errors/arm-codes.ts';
import { GRAPH_CODES, type GraphCode } from './errors/graph-codes.ts';
import { OAUTH_CODES, type OAuthCode } from './errors/oauth-codes.ts';
import { PARTNER_CENTER_CODES, type PartnerCenterCode } from './errors/partner-codes.ts';

export type { ArmCode, GraphCode, OAuthCode, PartnerCenterCode };

export interface ArmErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorBody[];
}

/** An error with a status, a code and a message (ARM's, the partner center's or the graph's codes). */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly details?: ArmErrorBody[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The same error with more response headers (a 401's challenge). */
  withHeaders(headers: Record<string, string>): ArmError {
    return new ArmError(this.status, this.code, this.message, this.target, this.details, {
      ...this.headers,
      ...headers,
    });
  }

  toBody(): { error: ArmErrorBody } {
    const error: ArmErrorBody = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

/** An ARM error: `code`'s status comes from `ARM_CODES`. */
export function armError(
  code: ArmCode,
  message: string,
  target?: string,
  details?: ArmErrorBody[],
  headers?: Record<string, string>,
): ArmError {
  return new ArmError(ARM_CODES[code], code, message, target, details, headers);
}

/** A partner center error: `code`'s status comes from `PARTNER_CENTER_CODES`. */
export function partnerCenterError(code: PartnerCenterCode, message: string, target?: string): ArmError {
  return new ArmError(PARTNER_CENTER_CODES[code], code, message, target);
}

/** A directory API (graph) error: `code`'s status comes from `GRAPH_CODES`. */
export function graphError(code: GraphCode, message: string, target?: string): ArmError {
  return new ArmError(GRAPH_CODES[code], code, message, target);
}

/** An OAuth error in the shape Azure AD answers it, with its AADSTS code. */
export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    message: string,
  ) {
    super(`AADSTS${aadsts}: ${message}`);
  }
}

/** A token endpoint error: `code` (`AADSTS…`) gives OAuth's `error` and the status from `OAUTH_CODES`. */
export function oauthError(code: OAuthCode, message: string): OAuthError {
  const { status, error } = OAUTH_CODES[code];
  return new OAuthError(status, error, Number(code.slice('AADSTS'.length)), message);
}

export const armErrors = {
  missingApiVersion: () =>
    armError(
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    ),
  invalidApiVersion: (given: string, resourceType: string, supported: readonly string[]) =>
    armError(
      'InvalidApiVersionParameter',
      `The api-version '${given}' is invalid. The supported versions for resource type '${resourceType}' are '${supported.join(', ')}'.`,
    ),
  /** A provider's type at an api-version it does not take (ARM answers this for provider types, InvalidApiVersionParameter for its own). */
  noRegisteredProvider: (
    resourceType: string,
    given: string,
    supported: readonly string[],
    locations?: readonly string[],
  ) =>
    armError(
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${locations?.[0] ?? 'global'}' and API version '${given.slice(0, 32)}' for type '${resourceType}'. ` +
        `The supported api-versions are '${supported.join(', ')}'.${locations ? ` The supported locations are '${locations.join(', ')}'.` : ''}`,
    ),
  invalidResourceNamespace: (namespace: string) =>
    armError('InvalidResourceNamespace', `The resource namespace '${namespace.slice(0, 100)}' is invalid.`),
  invalidResourceType: (
    namespace: string,
    type: string,
    apiVersion: string | undefined,
    supported: readonly string[],
  ) =>
    armError(
      'InvalidResourceType',
      `The resource type '${type.slice(0, 100)}' could not be found in the namespace '${namespace}'${apiVersion ? ` for api version '${apiVersion.slice(0, 32)}'` : ''}. ` +
        `The supported resource types are '${supported.join(', ')}'.`,
    ),
  invalidRequestContent: (message: string, target?: string) => armError('InvalidRequestContent', message, target),
  invalidText: (where: 'path' | 'query' | 'body' | 'form') =>
    armError(
      'InvalidRequestContent',
      `The request ${where} contains a NUL character or an unpaired UTF-16 surrogate, which are not accepted.`,
    ),
  invalidResourceId: (id: string) =>
    armError('LinkedInvalidPropertyId', `The resource id '${id}' is not a valid resource id.`, 'id'),
  bodyTooLarge: (limit: number) =>
    armError('RequestEntityTooLarge', `The request content was larger than the limit of ${limit} bytes.`),
  unsupportedMediaType: (type: string) =>
    armError(
      'UnsupportedMediaType',
      `The content media type '${type}' is not supported. Only 'application/json' is supported.`,
    ),
  routeNotFound: (method: string, path: string) =>
    armError('NotFound', `No HTTP resource was found that matches the request '${method} ${path}'.`),
  authenticationMissing: () =>
    armError('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing."),
  authenticationInvalid: (why: string) =>
    armError('InvalidAuthenticationToken', `The access token is invalid: ${why}.`),
  authenticationExpired: () =>
    armError('ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.'),
  audienceInvalid: (aud: string, expected: string) =>
    armError(
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences '${expected}'.`,
    ),
  authorizationFailed: (objectId: string, action: string, scope: string) =>
    armError(
      'AuthorizationFailed',
      `The client '${objectId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid.`,
    ),
  subscriptionNotFound: (subscriptionId: string) =>
    armError('SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`),
  invalidSubscriptionId: (subscriptionId: string) =>
    armError(
      'InvalidSubscriptionId',
      `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`,
    ),
  resourceGroupNotFound: (name: string) =>
    armError('ResourceGroupNotFound', `Resource group '${name}' could not be found.`),
  resourceNotFound: (type: string, name: string, resourceGroup?: string) =>
    armError(
      'ResourceNotFound',
      `The Resource '${type}/${name}'${resourceGroup ? ` under resource group '${resourceGroup}'` : ''} was not found.`,
    ),
  /** A resource the caller names by kind and name (a plan, an offer, a directory tenant) that does not exist. */
  namedResourceNotFound: (kind: string, name: string) =>
    armError('ResourceNotFound', `The ${kind} '${name}' was not found.`),
  /** A location a resource type is not offered in; without `resourceType`, the type the request is about. */
  locationNotAvailableForResourceType: (location: string, allowed: string, resourceType?: string) =>
    armError(
      'LocationNotAvailableForResourceType',
      `The provided location '${location}' is not available for ${resourceType ? `resource type '${resourceType}'` : 'this resource type'}. List of available regions for the resource type is '${allowed}'.`,
      'location',
    ),
  /** The web framework's own 4xx refusals keep its status (the one status not from `ARM_CODES`). */
  frameworkRefusal: (status: number, message: string) => new ArmError(status, 'BadRequest', message),
  internal: (requestId: string) =>
    armError(
      'InternalServerError',
      `The server encountered an internal error. Please retry the request. Request id '${requestId}'.`,
    ),
};

/** A failure to start that the person starting us can fix: its message says what to do. */
export class StartupError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
