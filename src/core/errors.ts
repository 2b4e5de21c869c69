// The one place where ARM-style errors are made. Every failure on an ARM endpoint leaves the server
// as {"error":{"code","message","target"?,"details"?}} with the status given here.

export interface ArmErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorBody[];
}

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

  toBody(): { error: ArmErrorBody } {
    const error: ArmErrorBody = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export const armErrors = {
  missingApiVersion: () =>
    new ArmError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
    ),
  invalidApiVersion: (given: string, resourceType: string, supported: readonly string[]) =>
    new ArmError(
      400,
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
    new ArmError(
      400,
      'NoRegisteredProviderFound',
      `No registered resource provider found for location '${locations?.[0] ?? 'global'}' and API version '${given.slice(0, 32)}' for type '${resourceType}'. ` +
        `The supported api-versions are '${supported.join(', ')}'.${locations ? ` The supported locations are '${locations.join(', ')}'.` : ''}`,
    ),
  invalidResourceNamespace: (namespace: string) =>
    new ArmError(404, 'InvalidResourceNamespace', `The resource namespace '${namespace.slice(0, 100)}' is invalid.`),
  invalidResourceType: (
    namespace: string,
    type: string,
    apiVersion: string | undefined,
    supported: readonly string[],
  ) =>
    new ArmError(
      404,
      'InvalidResourceType',
      `The resource type '${type.slice(0, 100)}' could not be found in the namespace '${namespace}'${apiVersion ? ` for api version '${apiVersion.slice(0, 32)}'` : ''}. ` +
        `The supported resource types are '${supported.join(', ')}'.`,
    ),
  invalidRequestContent: (message: string, target?: string) =>
    new ArmError(400, 'InvalidRequestContent', message, target),
  invalidText: (where: 'path' | 'query' | 'body' | 'form') =>
    new ArmError(
      400,
      'InvalidRequestContent',
      `The request ${where} contains a NUL character or an unpaired UTF-16 surrogate, which are not accepted.`,
    ),
  invalidResourceId: (id: string) =>
    new ArmError(400, 'LinkedInvalidPropertyId', `The resource id '${id}' is not a valid resource id.`, 'id'),
  bodyTooLarge: (limit: number) =>
    new ArmError(413, 'RequestEntityTooLarge', `The request content was larger than the limit of ${limit} bytes.`),
  unsupportedMediaType: (type: string) =>
    new ArmError(
      415,
      'UnsupportedMediaType',
      `The content media type '${type}' is not supported. Only 'application/json' is supported.`,
    ),
  routeNotFound: (method: string, path: string) =>
    new ArmError(404, 'NotFound', `No HTTP resource was found that matches the request '${method} ${path}'.`),
  authenticationMissing: () =>
    new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing."),
  authenticationInvalid: (why: string) =>
    new ArmError(401, 'InvalidAuthenticationToken', `The access token is invalid: ${why}.`),
  authenticationExpired: () =>
    new ArmError(
      401,
      'ExpiredAuthenticationToken',
      'The access token expiry UTC time is earlier than current UTC time.',
    ),
  audienceInvalid: (aud: string, expected: string) =>
    new ArmError(
      401,
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences '${expected}'.`,
    ),
  authorizationFailed: (objectId: string, action: string, scope: string) =>
    new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${objectId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid.`,
    ),
  subscriptionNotFound: (subscriptionId: string) =>
    new ArmError(404, 'SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`),
  invalidSubscriptionId: (subscriptionId: string) =>
    new ArmError(
      400,
      'InvalidSubscriptionId',
      `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`,
    ),
  resourceGroupNotFound: (name: string) =>
    new ArmError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`),
  resourceNotFound: (type: string, name: string, resourceGroup?: string) =>
    new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${type}/${name}'${resourceGroup ? ` under resource group '${resourceGroup}'` : ''} was not found.`,
    ),
  conflict: (code: string, message: string) => new ArmError(409, code, message),
  badRequest: (code: string, message: string, target?: string) => new ArmError(400, code, message, target),
  internal: (requestId: string) =>
    new ArmError(
      500,
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
