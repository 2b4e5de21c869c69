import { createHash } from 'node:crypto';
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

/** Tokens whose signature was verified, kept for their next requests (a client sends one token many times). */
const VERIFIED_TOKENS_KEPT = 1000;
/** The leeway on a token's times, as jose's `clockTolerance` (seconds). */
const CLOCK_TOLERANCE_S = 30;

type Claims = JWTPayload & Record<string, unknown>;

export class HubTokenVerifier {
  // A token's signature never changes its answer (the hub's keys are never withdrawn), so a token
  // verified once is kept by its SHA-256 (not its text) with its claims; its times are checked
  // again on every request. Verifying an RS256 signature cost ~0.5 ms of a usage page's ~15.
  private readonly verified = new Map<string, Claims>();

  constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly loginBase: () => string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async verify(token: string, audiences: string[]): Promise<Principal> {
    const digest = createHash('sha256').update(token).digest('base64');
    const payload = this.keptClaims(digest) ?? (await this.verifiedClaims(token, digest));
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

  /** A kept token's claims while its times still hold; otherwise it is verified afresh (and refused by jose). */
  private keptClaims(digest: string): Claims | undefined {
    const claims = this.verified.get(digest);
    if (claims === undefined) return undefined;
    const seconds = this.now().getTime() / 1000;
    const expired = typeof claims.exp !== 'number' || seconds >= claims.exp + CLOCK_TOLERANCE_S;
    const early = typeof claims.nbf === 'number' && seconds < claims.nbf - CLOCK_TOLERANCE_S;
    if (!expired && !early) return claims;
    this.verified.delete(digest);
    return undefined;
  }

  private async verifiedClaims(token: string, digest: string): Promise<Claims> {
    let payload: Claims;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        algorithms: ['RS256'],
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: this.now(),
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw armErrors.authenticationExpired();
      if (e instanceof joseErrors.JWSSignatureVerificationFailed || e instanceof joseErrors.JWKSNoMatchingKey) {
        throw armErrors.authenticationInvalid('its signature could not be verified');
      }
      throw armErrors.authenticationInvalid((e as Error).message || 'it could not be read');
    }
    // The oldest kept token goes first (a Map keeps its keys in the order they were set).
    if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(digest, payload);
    return payload;
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
