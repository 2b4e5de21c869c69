import { SignJWT } from 'jose';
import { isGuid, newGuid } from '../core/ids.ts';
import { adfsAuthorityOf, issuersFor, normalizeAudience } from '../core/tokens.ts';
import { GRANT_TYPES, oauthErrors, resourceFromScope, TOKEN_LIFETIME_SECONDS } from './rules.ts';
import type { IdentityService, TokenResponse } from './service.ts';
import { checkClientSecret, checkPassword } from './sign-in.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { DirectoriesTable, UsersTable } from './tables.ts';
import {
  clientInfo,
  readRefreshToken,
  refreshStillValid,
  signIdToken,
  signRefreshToken,
  type UserSession,
} from './user-tokens.ts';

// The token endpoint: client credentials, password and refresh-token grants, in the v1 and v2
// shapes, signed with the hub's current key. Tokens keep real time and always carry `exp`.

/** The authority a client asked: Azure AD's, which names a directory in its path, or the AD FS-style one, which names none. */
export type Authority = { kind: 'aad'; tenant: string } | { kind: 'adfs' };

const isCommon = (segment: string) => ['common', 'organizations'].includes(segment.toLowerCase());

/**
 * The directory an Azure AD-style request names. `common` and `organizations` name the user's own
 * directory (a refresh token's, for the refresh grant: answered undefined); an unknown user there
 * answers undefined too, so that the password check refuses it like a wrong password.
 */
async function resolveTenant(
  db: IdentityDb,
  segment: string,
  grant: string,
  userName?: string,
): Promise<DirectoriesTable | undefined> {
  if (isCommon(segment) && grant === 'refresh_token') return undefined;
  if (isCommon(segment) && userName) {
    const member = await identityStore.findMemberByUpn(db, userName);
    return member && identityStore.getDirectory(db, member.tenant_id);
  }
  const s = segment.toLowerCase();
  const dir = isGuid(s) ? await identityStore.getDirectory(db, s) : await identityStore.findDirectoryByDomain(db, s);
  if (!dir) throw oauthErrors.tenantNotFound(segment);
  return dir;
}

/** The person's account in a directory: its member account at home, its guest account elsewhere. */
async function accountIn(
  identity: IdentityService,
  member: UsersTable,
  directory: DirectoriesTable,
): Promise<UsersTable> {
  const account =
    member.tenant_id === directory.tenant_id
      ? member
      : await identityStore.findGuest(identity.db, directory.tenant_id, member.object_id);
  if (!account) throw oauthErrors.userNotInTenant(member.user_principal_name, directory.tenant_id);
  if (!account.account_enabled || !member.account_enabled) throw oauthErrors.disabled();
  // A guest's first sign-in redeems its invitation.
  if (account.user_type === 'Guest')
    await identityStore.completeInvitations(identity.db, account.object_id, identity.clock.now());
  return account;
}

async function resolveResource(db: IdentityDb, version: 'v1' | 'v2', form: Record<string, string>): Promise<string> {
  let resource: string | undefined;
  if (version === 'v1') {
    resource = form.resource;
    if (!resource) throw oauthErrors.missingParameter('resource');
  } else {
    if (!form.scope) throw oauthErrors.missingParameter('scope');
    resource = resourceFromScope(form.scope);
    if (!resource) throw oauthErrors.invalidScope(form.scope);
  }
  const app = await identityStore.findApplicationByIdentifierUri(db, normalizeAudience(resource));
  if (!app) throw oauthErrors.invalidResource(resource);
  return app.identifier_uris.find((u) => normalizeAudience(u) === normalizeAudience(resource)) ?? resource;
}

/** Whose token this is: a service principal, or a user's session (which also gets OpenID's tokens). */
interface Subject {
  directory: DirectoriesTable;
  oid: string;
  claims: Record<string, unknown>;
  session?: UserSession;
}

/**
 * The token endpoint: client credentials, password and refresh-token grants, in the v1 and v2
 * shapes, at an Azure AD-style authority (the directory in the path) or the AD FS-style one (the
 * directory worked out: an application's home directory, the user's own, the refresh token's).
 */
export async function issueToken(
  identity: IdentityService,
  authority: Authority,
  version: 'v1' | 'v2',
  form: Record<string, string>,
): Promise<TokenResponse> {
  const db = identity.db;
  const grant = form.grant_type;
  if (!grant) throw oauthErrors.missingParameter('grant_type');
  if (!(GRANT_TYPES as readonly string[]).includes(grant)) throw oauthErrors.unsupportedGrant(grant);
  if (!form.client_id) throw oauthErrors.missingParameter('client_id');
  const clientId = form.client_id.toLowerCase();
  const required = grant === 'password' ? ['username', 'password'] : grant === 'refresh_token' ? ['refresh_token'] : [];
  for (const name of required) if (!form[name]) throw oauthErrors.missingParameter(name);
  const named = authority.kind === 'aad' ? await resolveTenant(db, authority.tenant, grant, form.username) : undefined;
  const audience = await resolveResource(db, version, form);
  const app = isGuid(clientId) ? await identityStore.getApplication(db, clientId) : undefined;
  if (!app)
    throw oauthErrors.appNotFound(
      form.client_id,
      named?.tenant_id ?? (authority.kind === 'aad' ? authority.tenant : 'adfs'),
    );

  let subject: Subject;
  if (grant === 'client_credentials') {
    if (!form.client_secret) throw oauthErrors.missingParameter('client_secret');
    const directory =
      authority.kind === 'aad'
        ? named
        : app.home_tenant_id
          ? await identityStore.getDirectory(db, app.home_tenant_id)
          : undefined;
    if (!directory)
      throw authority.kind === 'aad'
        ? oauthErrors.tenantNotFound(authority.tenant)
        : oauthErrors.noDirectoryForClient(app.app_id);
    await checkClientSecret(db, app.app_id, form.client_secret, identity.signInPolicy);
    const sp = await identityStore.findServicePrincipal(db, directory.tenant_id, app.app_id);
    if (!sp) throw oauthErrors.appNotFound(app.app_id, directory.tenant_id);
    subject = {
      directory,
      oid: sp.object_id,
      claims: { appid: app.app_id, azp: app.app_id, idtyp: 'app', app_displayname: app.display_name },
    };
  } else {
    if (!app.public_client) throw oauthErrors.notPublicClient(app.app_id);
    let member: UsersTable;
    let directory: DirectoriesTable | undefined;
    if (grant === 'password') {
      member = await checkPassword(db, form.username, form.password, identity.signInPolicy);
      // `common` with a known user always finds its directory.
      directory = authority.kind === 'aad' ? named : await identityStore.getDirectory(db, member.tenant_id);
      if (!directory) throw oauthErrors.badPassword();
    } else {
      const refresh = await readRefreshToken(identity.keySet(), identity.loginBase(), form.refresh_token);
      if (refresh.clientId !== app.app_id) throw oauthErrors.refreshClientMismatch();
      const found = await identityStore.getUser(db, refresh.memberId);
      if (found?.user_type !== 'Member') throw oauthErrors.badRefreshToken();
      if (!refreshStillValid(refresh, found)) throw oauthErrors.refreshTokenRevoked();
      member = found;
      directory = named ?? (await identityStore.getDirectory(db, refresh.tenantId));
      if (!directory) throw oauthErrors.badRefreshToken();
    }
    const account = await accountIn(identity, member, directory);
    subject = {
      directory,
      oid: account.object_id,
      claims: {
        appid: app.app_id,
        azp: app.app_id,
        idtyp: 'user',
        upn: member.user_principal_name,
        unique_name: member.user_principal_name,
        name: member.display_name,
        ...(account.user_type === 'Guest' ? { idp: issuersFor(identity.loginBase(), member.tenant_id)[0] } : {}),
      },
      session: { member, account, tenantId: directory.tenant_id, clientId: form.client_id.trim() },
    };
  }
  return respond(identity, authority, version, form, audience, subject);
}

/** The token response: the access token, and for a user's session the id_token, client_info and refresh token its scope asks for. */
async function respond(
  identity: IdentityService,
  authority: Authority,
  version: 'v1' | 'v2',
  form: Record<string, string>,
  audience: string,
  subject: Subject,
): Promise<TokenResponse> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + TOKEN_LIFETIME_SECONDS;
  // Access tokens name their directory's issuer whichever authority issued them, so every endpoint takes them alike.
  const [issuerV1, issuerV2] = issuersFor(identity.loginBase(), subject.directory.tenant_id);
  const signing = identity.signingKey();
  const accessToken = await new SignJWT({
    ...subject.claims,
    tid: subject.directory.tenant_id,
    oid: subject.oid,
    ver: version === 'v1' ? '1.0' : '2.0',
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid })
    .setIssuer(version === 'v1' ? issuerV1 : issuerV2)
    .setAudience(audience)
    .setSubject(subject.oid)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(exp)
    .setJti(newGuid())
    .sign(signing.key);

  const openId: Record<string, string> = {};
  const scopes = (form.scope ?? '').toLowerCase().split(/\s+/);
  if (subject.session && scopes.includes('openid')) {
    const idIssuer =
      authority.kind === 'adfs' ? adfsAuthorityOf(identity.loginBase()) : version === 'v1' ? issuerV1 : issuerV2;
    openId.id_token = await signIdToken(signing, subject.session, idIssuer, version);
    openId.client_info = clientInfo(subject.session);
  }
  if (subject.session && (scopes.includes('offline_access') || form.grant_type === 'refresh_token')) {
    openId.refresh_token = await signRefreshToken(signing, identity.loginBase(), subject.session);
  }
  if (version === 'v1') {
    return {
      token_type: 'Bearer',
      expires_in: String(TOKEN_LIFETIME_SECONDS),
      ext_expires_in: String(TOKEN_LIFETIME_SECONDS),
      expires_on: String(exp),
      not_before: String(now),
      resource: audience,
      access_token: accessToken,
      ...openId,
    };
  }
  return {
    token_type: 'Bearer',
    expires_in: TOKEN_LIFETIME_SECONDS,
    ext_expires_in: TOKEN_LIFETIME_SECONDS,
    scope: [`${audience}/.default`, ...['openid', 'profile', 'offline_access'].filter((s) => scopes.includes(s))].join(
      ' ',
    ),
    access_token: accessToken,
    ...openId,
  };
}
