import { SignJWT } from 'jose';
import { isGuid, newGuid } from '../core/ids.ts';
import { issuersFor, normalizeAudience } from '../core/tokens.ts';
import { oauthErrors, resourceFromScope, TOKEN_LIFETIME_SECONDS } from './rules.ts';
import type { IdentityService, TokenResponse } from './service.ts';
import { checkClientSecret, checkPassword } from './sign-in.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { DirectoriesTable, UsersTable } from './tables.ts';

// The token endpoint: client credentials and password grants, in the v1 and v2 shapes, signed
// with the hub's current key. Tokens keep real time and always carry `exp`.

/**
 * The directory a request names. `common` and `organizations` name the user's own directory; an
 * unknown user there answers undefined, so that the password check refuses it like a wrong password.
 */
async function resolveTenant(db: IdentityDb, segment: string, userName?: string): Promise<DirectoriesTable | undefined> {
  const s = segment.toLowerCase();
  if (['common', 'organizations'].includes(s) && userName) {
    const member = await identityStore.findMemberByUpn(db, userName);
    return member && identityStore.getDirectory(db, member.tenant_id);
  }
  const dir = isGuid(s) ? await identityStore.getDirectory(db, s) : await identityStore.findDirectoryByDomain(db, s);
  if (!dir) throw oauthErrors.tenantNotFound(segment);
  return dir;
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

/** The token endpoint: client credentials and password grants, in the v1 and v2 shapes. */
export async function issueToken(identity: IdentityService, tenantSegment: string, version: 'v1' | 'v2', form: Record<string, string>): Promise<TokenResponse> {
const db = identity.db;
  const grant = form.grant_type;
  if (!grant) throw oauthErrors.missingParameter('grant_type');
  if (grant !== 'client_credentials' && grant !== 'password') throw oauthErrors.unsupportedGrant(grant);
  if (!form.client_id) throw oauthErrors.missingParameter('client_id');
  const clientId = form.client_id.toLowerCase();
  if (grant === 'password') {
    if (!form.username) throw oauthErrors.missingParameter('username');
    if (!form.password) throw oauthErrors.missingParameter('password');
  }
  const found = await resolveTenant(db, tenantSegment, form.username);
  const audience = await resolveResource(db, version, form);
  const app = isGuid(clientId) ? await identityStore.getApplication(db, clientId) : undefined;
  if (!app) throw oauthErrors.appNotFound(form.client_id, found?.tenant_id ?? tenantSegment);

  let directory: DirectoriesTable;
  let subject: { oid: string; extra: Record<string, unknown> };
  if (grant === 'client_credentials') {
    if (!form.client_secret) throw oauthErrors.missingParameter('client_secret');
    if (!found) throw oauthErrors.tenantNotFound(tenantSegment);
    directory = found;
    await checkClientSecret(db, app.app_id, form.client_secret, identity.signInPolicy);
    const sp = await identityStore.findServicePrincipal(db, directory.tenant_id, app.app_id);
    if (!sp) throw oauthErrors.appNotFound(app.app_id, directory.tenant_id);
    subject = { oid: sp.object_id, extra: { appid: app.app_id, azp: app.app_id, idtyp: 'app', app_displayname: app.display_name } };
  } else {
    if (!app.public_client) throw oauthErrors.notPublicClient(app.app_id);
    const member = await checkPassword(db, form.username, form.password, identity.signInPolicy);
    // `common` with a known user always finds its directory.
    if (!found) throw oauthErrors.badPassword();
    directory = found;
    let account: UsersTable | undefined = member;
    if (member.tenant_id !== directory.tenant_id) account = await identityStore.findGuest(db, directory.tenant_id, member.object_id);
    if (!account) throw oauthErrors.userNotInTenant(form.username, directory.tenant_id);
    if (!account.account_enabled) throw oauthErrors.disabled();
    // A guest's first sign-in redeems its invitation.
    if (account.user_type === 'Guest') await identityStore.completeInvitations(db, account.object_id, identity.clock.now());
    subject = {
      oid: account.object_id,
      extra: {
        appid: app.app_id,
        azp: app.app_id,
        idtyp: 'user',
        upn: member.user_principal_name,
        unique_name: member.user_principal_name,
        name: member.display_name,
        ...(account.user_type === 'Guest' ? { idp: issuersFor(identity.loginBase(), member.tenant_id)[0] } : {}),
      },
    };
  }

  const now = Math.floor(Date.now() / 1000);
  const exp = now + TOKEN_LIFETIME_SECONDS;
  const [issuerV1, issuerV2] = issuersFor(identity.loginBase(), directory.tenant_id);
  const signing = identity.signingKey();
  const accessToken = await new SignJWT({ ...subject.extra, tid: directory.tenant_id, oid: subject.oid, ver: version === 'v1' ? '1.0' : '2.0' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid })
    .setIssuer(version === 'v1' ? issuerV1 : issuerV2)
    .setAudience(audience)
    .setSubject(subject.oid)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(exp)
    .setJti(newGuid())
    .sign(signing.key);
  if (version === 'v1') {
    return {
      token_type: 'Bearer',
      expires_in: String(TOKEN_LIFETIME_SECONDS),
      ext_expires_in: String(TOKEN_LIFETIME_SECONDS),
      expires_on: String(exp),
      not_before: String(now),
      resource: audience,
      access_token: accessToken,
    };
  }
  return {
    token_type: 'Bearer',
    expires_in: TOKEN_LIFETIME_SECONDS,
    ext_expires_in: TOKEN_LIFETIME_SECONDS,
    scope: `${audience}/.default`,
    access_token: accessToken,
  };
}
