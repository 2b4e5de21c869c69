import { oauthError } from '../core/errors.ts';

// Rules of identity: pure functions, no database, no HTTP.

/** Public clients whose users sign in with the password grant (no secret). */
export const WELL_KNOWN_PUBLIC_CLIENTS = [
  { appId: '1950a258-227b-4e31-a9cf-717495945fc2', displayName: 'Microsoft Azure PowerShell' },
  { appId: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', displayName: 'Microsoft Azure CLI' },
  { appId: '5d3f0c2a-6e47-4b39-9a1f-7c1e5b7d2a10', displayName: 'Stackledger CLI' },
] as const;

export const STACKLEDGER_CLI_CLIENT_ID = WELL_KNOWN_PUBLIC_CLIENTS[2].appId;

export const TOKEN_LIFETIME_SECONDS = 3600;

/** A refresh token's lifetime; each use gives a new one, so a client in use stays signed in. */
export const REFRESH_TOKEN_LIFETIME_SECONDS = 14 * 24 * 3600;

/** How the token endpoint answers repeated failures, as the vendor's directory does. */
export interface SignInPolicy {
  /** Failed password sign-ins in a row that lock a user. */
  lockoutThreshold: number;
  /** How long a locked user stays locked (real time). */
  lockoutMs: number;
  /** How long a wrong client secret waits before its refusal (applications never lock). */
  badSecretDelayMs: number;
}

export const DEFAULT_SIGN_IN_POLICY: SignInPolicy = { lockoutThreshold: 10, lockoutMs: 60_000, badSecretDelayMs: 300 };

export const isLocked = (user: { locked_until: Date | null }, now: Date): boolean =>
  user.locked_until !== null && user.locked_until.getTime() > now.getTime();

/** The grants the token endpoint serves (and the OpenID configuration lists). */
export const GRANT_TYPES = ['client_credentials', 'password', 'refresh_token'] as const;

export const oauthErrors = {
  unsupportedGrant: (grant: string) =>
    oauthError('AADSTS70003', `The app requested an unsupported grant type '${grant}'.`),
  missingParameter: (name: string) =>
    oauthError('AADSTS900144', `The request body must contain the following parameter: '${name}'.`),
  tenantNotFound: (tenant: string) =>
    oauthError(
      'AADSTS90002',
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
    ),
  appNotFound: (appId: string, tenant: string) =>
    oauthError('AADSTS700016', `Application with identifier '${appId}' was not found in the directory '${tenant}'.`),
  badSecret: (appId: string) =>
    oauthError('AADSTS7000215', `Invalid client secret provided for application '${appId}'.`),
  notPublicClient: (appId: string) =>
    oauthError(
      'AADSTS7000218',
      `The request body must contain the following parameter: 'client_assertion' or 'client_secret' (application '${appId}' is not a public client).`,
    ),
  locked: () =>
    oauthError(
      'AADSTS50053',
      'Your account is locked because you tried to sign in too many times with an incorrect user ID or password. Try again later.',
    ),
  disabled: () => oauthError('AADSTS50057', 'The user account is disabled.'),
  interactiveNotSupported: () =>
    oauthError(
      'AADSTS70005',
      "This cloud offers no interactive sign-in: request tokens at the token endpoint with the 'client_credentials' or 'password' grant.",
    ),
  badPassword: () => oauthError('AADSTS50126', 'Error validating credentials due to invalid username or password.'),
  userNotInTenant: (user: string, tenant: string) =>
    oauthError(
      'AADSTS50020',
      `User account '${user}' from identity provider does not exist in tenant '${tenant}' and cannot access the application in that tenant.`,
    ),
  invalidResource: (resource: string) =>
    oauthError(
      'AADSTS500011',
      `The resource principal named ${resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant.`,
    ),
  invalidRequest: (message: string) => oauthError('AADSTS90023', message),
  serverError: (requestId: string) =>
    oauthError('AADSTS90033', `A transient error has occurred. Please try again. Request id '${requestId}'.`),
  badRefreshToken: () =>
    oauthError(
      'AADSTS9002313',
      'Invalid request. Request is malformed or invalid: the refresh token was not issued by this cloud or has been tampered with.',
    ),
  refreshTokenExpired: () =>
    oauthError('AADSTS700082', 'The refresh token has expired due to inactivity. Sign in again.'),
  refreshTokenRevoked: () =>
    oauthError(
      'AADSTS50173',
      'The provided grant has expired due to it being revoked: the password changed since it was issued. Sign in again.',
    ),
  refreshClientMismatch: () =>
    oauthError(
      'AADSTS70000',
      'Provided grant is invalid or malformed: the refresh token was issued to another client.',
    ),
  noDirectoryForClient: (appId: string) =>
    oauthError(
      'AADSTS700016',
      `Application with identifier '${appId}' has no home directory: at the AD FS authority a service principal signs in to its application's home directory.`,
    ),
  invalidScope: (scope: string) =>
    oauthError(
      'AADSTS70011',
      `The provided value for the input parameter 'scope' is not valid: '${scope}'. It must name one resource followed by '/.default'.`,
    ),
};

/** The resource of a v2 request: its scope list names one `{resource}/.default`. */
export function resourceFromScope(scope: string): string | undefined {
  const resources = scope
    .split(/\s+/)
    .filter((s) => s.length > 0 && !['openid', 'profile', 'offline_access', 'email'].includes(s.toLowerCase()))
    .map((s) => s.replace(/\/\.default$/i, ''));
  return resources.length === 1 ? resources[0] : undefined;
}
