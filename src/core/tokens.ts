import {
  createLocalJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { armErrors } from './errors.ts';
import { HttpError, type HttpClient } from './http-client.ts';
import type { Principal } from './principal.ts';

// Verifying the hub's bearer tokens, for the hub itself (its own keys) and for a stack (the hub's
// published keys, fetched over HTTPS). Shared by both roles.

export const normalizeAudience = (aud: string): string => aud.trim().replace(/\/+$/, '').toLowerCase();

/** The issuers of a directory: the v1 and v2 forms of the hub's login endpoint. */
export function issuersFor(loginBase: string, tenantId: string): string[] {
  return [`${loginBase}/${tenantId}/`, `${loginBase}/${tenantId}/v2.0`];
}

/**
 * The AD FS-style authority of a login endpoint: `/adfs` at the root of its origin, since MSAL (in
 * the Azure CLI) recognises AD FS only when the authority's first path segment is `adfs`.
 */
export const adfsAuthorityOf = (loginBase: string): string => `${new URL(loginBase).origin}${ADFS_PATH}`;
export const ADFS_PATH = '/adfs';

/** Which authority the metadata endpoints name: AD FS-style (`adfs`) or Azure AD-style (`aad`). Both always serve. */
export type IdentitySystem = 'adfs' | 'aad';

export function principalFromClaims(claims: JWTPayload & Record<string, unknown>, audience: string): Principal {
  const isApp = claims.idtyp === 'app' || claims.upn === undefined;
  return {
    tenantId: String(claims.tid),
    objectId: String(claims.oid),
    kind: isApp ? 'ServicePrincipal' : 'User',
    appId: (claims.appid ?? claims.azp) as string | undefined,
    userPrincipalName: claims.upn as string | undefined,
    displayName: claims.name as string | undefined,
    audience,
  };
}

export class HubTokenVerifier {
  constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly loginBase: () => string,
  ) {}

  async verify(token: string, audiences: string[]): Promise<Principal> {
    let payload: JWTPayload & Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        clockTolerance: 30,
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw armErrors.authenticationExpired();
      if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWKSNoMatchingKey) {
        throw armErrors.authenticationInvalid('its signature could not be verified');
      }
      throw armErrors.authenticationInvalid((e as Error).message || 'it could not be read');
    }
    if (typeof payload.tid !== 'string' || typeof payload.oid !== 'string')
      throw armErrors.authenticationInvalid("it has no 'tid' or 'oid' claim");
    if (!issuersFor(this.loginBase(), payload.tid).includes(String(payload.iss))) {
      throw armErrors.authenticationInvalid(`its issuer '${payload.iss}' is not this cloud's login endpoint`);
    }
    const aud = Array.isArray(payload.aud) ? payload.aud[0] : payload.aud;
    const wanted = audiences.map(normalizeAudience);
    if (typeof aud !== 'string' || !wanted.includes(normalizeAudience(aud)))
      throw armErrors.audienceInvalid(String(aud), audiences.join(', '));
    return principalFromClaims(payload, aud);
  }
}

/** The hub's published key set, fetched over HTTPS and fetched again when a token names a new key. */
export function remoteKeySet(http: HttpClient, jwksUrl: () => string): JWTVerifyGetKey {
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  const refresh = async () => {
    const set = await http.call<JSONWebKeySet>('GET', jwksUrl());
    local = createLocalJWKSet(set);
    fetchedAt = Date.now();
  };
  return async (header, token) => {
    if (!local) await refresh();
    try {
      return await local!(header, token);
    } catch (e) {
      if (e instanceof joseErrors.JWKSNoMatchingKey && Date.now() - fetchedAt > 5_000) {
        await refresh();
        return local!(header, token);
      }
      throw e;
    }
  };
}

/** An application's credentials in one directory. */
export interface AppCredentials {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** The client-credentials request to the hub's token endpoint; its answer as it came. */
export function requestAppToken(http: HttpClient, login: string, who: AppCredentials, resource: string) {
  return http.send<{ access_token: string; error_codes?: number[] }>('POST', `${login}/${who.tenantId}/oauth2/token`, {
    form: { grant_type: 'client_credentials', client_id: who.clientId, client_secret: who.clientSecret, resource },
  });
}

/** An access token of an application for a resource; a refusal throws an HttpError. */
export async function appToken(
  http: HttpClient,
  login: string,
  who: AppCredentials,
  resource: string,
): Promise<string> {
  const res = await requestAppToken(http, login, who, resource);
  if (res.status >= 400) throw new HttpError(res.status, res.body, `${login}/${who.tenantId}/oauth2/token`);
  return res.body.access_token;
}
