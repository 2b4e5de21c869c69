import { createHash } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTVerifyGetKey } from 'jose';
import { newGuid } from '../core/ids.ts';
import { oauthErrors, REFRESH_TOKEN_LIFETIME_SECONDS, TOKEN_LIFETIME_SECONDS } from './rules.ts';
import type { UsersTable } from './tables.ts';

// What a user's sign-in gives besides the access token, for OpenID clients (MSAL): the id_token,
// client_info and a refresh token. The refresh token is a JWT signed with the hub's key, for the
// hub alone: its audience is no API's, so no endpoint takes it as a bearer token.

const REFRESH_AUDIENCE = 'urn:stackledger:refresh-token';

export interface Signing {
  kid: string;
  key: CryptoKey | Uint8Array;
}

/** Who signed in, in which directory, through which client: what a refresh token carries. */
export interface UserSession {
  /** The person's member account (home directory). */
  member: UsersTable;
  /** Its account in the directory signed into: the member itself, or a guest account. */
  account: UsersTable;
  tenantId: string;
  clientId: string;
}

/** A short fingerprint of the password hash: a new password ends the refresh tokens issued before it. */
const passwordStamp = (member: UsersTable) =>
  createHash('sha256')
    .update(member.password_hash ?? '')
    .digest('base64url')
    .slice(0, 16);

/** The OpenID id_token of a user sign-in: `aud` is the client, `iss` the authority that was asked. */
export async function signIdToken(
  signing: Signing,
  session: UserSession,
  issuer: string,
  version: 'v1' | 'v2',
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const upn = session.member.user_principal_name;
  return new SignJWT({
    tid: session.tenantId,
    oid: session.account.object_id,
    upn,
    unique_name: upn,
    preferred_username: upn,
    name: session.account.display_name,
    ver: version === 'v1' ? '1.0' : '2.0',
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid })
    .setIssuer(issuer)
    .setAudience(session.clientId)
    .setSubject(session.account.object_id)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
    .sign(signing.key);
}

/** MSAL's account key: base64url of `{"uid","utid"}`. */
export function clientInfo(session: UserSession): string {
  return Buffer.from(JSON.stringify({ uid: session.account.object_id, utid: session.tenantId })).toString('base64url');
}

export async function signRefreshToken(signing: Signing, issuer: string, session: UserSession): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tid: session.tenantId, cid: session.clientId, pws: passwordStamp(session.member) })
    .setProtectedHeader({ alg: 'RS256', typ: 'RT+JWT', kid: signing.kid })
    .setIssuer(issuer)
    .setAudience(REFRESH_AUDIENCE)
    .setSubject(session.member.object_id)
    .setIssuedAt(now)
    .setExpirationTime(now + REFRESH_TOKEN_LIFETIME_SECONDS)
    .setJti(newGuid())
    .sign(signing.key);
}

export interface RefreshClaims {
  memberId: string;
  tenantId: string;
  clientId: string;
  stamp: string;
}

/** The claims of a refresh token this hub issued, else `invalid_grant`. */
export async function readRefreshToken(keys: JWTVerifyGetKey, issuer: string, token: string): Promise<RefreshClaims> {
  try {
    const { payload } = await jwtVerify(token, keys, {
      algorithms: ['RS256'],
      issuer,
      audience: REFRESH_AUDIENCE,
      typ: 'RT+JWT',
      requiredClaims: ['exp', 'sub'],
    });
    if (typeof payload.tid !== 'string' || typeof payload.cid !== 'string' || typeof payload.pws !== 'string')
      throw oauthErrors.badRefreshToken();
    return { memberId: payload.sub!, tenantId: payload.tid, clientId: payload.cid, stamp: payload.pws };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) throw oauthErrors.refreshTokenExpired();
    throw oauthErrors.badRefreshToken();
  }
}

/** Whether a refresh token still speaks for this member: same password since it was issued. */
export const refreshStillValid = (claims: RefreshClaims, member: UsersTable): boolean =>
  passwordStamp(member) === claims.stamp;
