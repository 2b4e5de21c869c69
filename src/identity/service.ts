import { createLocalJWKSet, exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import type { Clock } from '../core/clock.ts';
import { ArmError } from '../core/errors.ts';
import { hashPassword, hashSecret, newGuid, newPassword, newSecret, passwordMatches, secretMatches, isGuid } from '../core/ids.ts';
import type { Principal } from '../core/principal.ts';
import { issuersFor, normalizeAudience } from '../core/tokens.ts';
import type { TenantInfo } from '../arm/service.ts';
import { oauthErrors, resourceFromScope, TOKEN_LIFETIME_SECONDS, WELL_KNOWN_PUBLIC_CLIENTS } from './rules.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { DirectoriesTable, UsersTable } from './tables.ts';

// Directories, users, applications and service principals, and the token endpoint that signs
// for them. Tokens keep real time (not the simulated clock); records keep domain time.

export interface NewDirectory {
  displayName: string;
  domain: string;
  kind: 'partner' | 'customer' | 'operator';
  tenantId?: string;
}

export interface NewUser {
  tenantId: string;
  userPrincipalName: string;
  displayName: string;
  password?: string;
  userType?: 'Member' | 'Guest';
  homeObjectId?: string;
  mail?: string;
  directoryRole?: string;
}

export interface AdministeredDirectory {
  tenantId: string;
  domain: string;
  clientId: string;
  clientSecret: string;
  servicePrincipalId: string;
  admin: { userName: string; password: string; objectId: string };
}

export interface TokenResponse {
  [k: string]: string | number;
}

export class IdentityService {
  #signing?: { kid: string; key: CryptoKey | Uint8Array };
  #jwks: JSONWebKeySet = { keys: [] };
  #keySet?: JWTVerifyGetKey;

  constructor(
    readonly db: IdentityDb,
    readonly clock: Clock,
    readonly loginBase: () => string,
  ) {}

  /** Loads the signing key, creating it on first start; it persists so tokens survive restarts. */
  async init(): Promise<void> {
    let rows = await identityStore.signingKeys(this.db);
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const kid = newGuid();
      const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
      await identityStore.insertSigningKey(this.db, { kid, private_jwk: await exportJWK(privateKey) as Record<string, unknown>, public_jwk: publicJwk, created_at: new Date() });
      rows = await identityStore.signingKeys(this.db);
    }
    const newest = rows[0];
    this.#signing = { kid: newest.kid, key: await importJWK(newest.private_jwk as JWK, 'RS256') };
    this.#jwks = { keys: rows.map((r) => r.public_jwk as JWK) };
    this.#keySet = createLocalJWKSet(this.#jwks);
    for (const c of WELL_KNOWN_PUBLIC_CLIENTS) {
      await identityStore.insertApplication(this.db, {
        app_id: c.appId,
        home_tenant_id: null,
        display_name: c.displayName,
        identifier_uris: [],
        public_client: true,
        created_at: this.clock.now(),
      });
    }
  }

  /** Signs claims with the hub's key (activation keys and other statements the hub vouches for). */
  async signClaims(claims: Record<string, unknown>, audience: string): Promise<string> {
    const signing = this.#signing!;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid })
      .setIssuer(this.loginBase())
      .setAudience(audience)
      .setIssuedAt()
      .sign(signing.key);
  }

  jwks(): JSONWebKeySet {
    return this.#jwks;
  }

  keySet(): JWTVerifyGetKey {
    if (!this.#keySet) throw new Error('identity not initialised');
    return this.#keySet;
  }

  // ---- directories and accounts ----------------------------------------------------------------

  async createDirectory(input: NewDirectory, db: IdentityDb = this.db): Promise<DirectoriesTable> {
    if (await identityStore.findDirectoryByDomain(db, input.domain)) {
      throw new ArmError(409, 'DomainAlreadyExists', `The domain '${input.domain}' is already taken by another directory.`, 'domain');
    }
    const row: DirectoriesTable = {
      tenant_id: (input.tenantId ?? newGuid()).toLowerCase(),
      display_name: input.displayName,
      default_domain: input.domain.toLowerCase(),
      kind: input.kind,
      created_at: this.clock.now(),
    };
    await identityStore.insertDirectory(db, row);
    return row;
  }

  /** A directory named by its tenant id or by its domain. */
  async findDirectory(segment: string): Promise<DirectoriesTable | undefined> {
    return isGuid(segment) ? identityStore.getDirectory(this.db, segment.toLowerCase()) : identityStore.findDirectoryByDomain(this.db, segment);
  }

  getDirectory(tenantId: string) {
    return isGuid(tenantId) ? identityStore.getDirectory(this.db, tenantId.toLowerCase()) : Promise.resolve(undefined);
  }

  async createUser(input: NewUser, db: IdentityDb = this.db): Promise<UsersTable> {
    const row: UsersTable = {
      object_id: newGuid(),
      tenant_id: input.tenantId,
      user_principal_name: input.userPrincipalName,
      display_name: input.displayName,
      mail: input.mail ?? null,
      user_type: input.userType ?? 'Member',
      password_hash: input.password === undefined ? null : await hashPassword(input.password),
      home_object_id: input.homeObjectId ?? null,
      created_at: this.clock.now(),
      directory_role: input.directoryRole ?? null,
    };
    await identityStore.insertUser(db, row);
    return row;
  }

  /** Registers an application in its home directory, with its service principal there. */
  async createApplication(input: { homeTenantId: string; displayName: string; identifierUris?: string[]; appId?: string }, db: IdentityDb = this.db) {
    const appId = input.appId ?? newGuid();
    const now = this.clock.now();
    await identityStore.insertApplication(db, {
      app_id: appId,
      home_tenant_id: input.homeTenantId,
      display_name: input.displayName,
      identifier_uris: input.identifierUris ?? [],
      public_client: false,
      created_at: now,
    });
    const sp = await this.ensureServicePrincipal(input.homeTenantId, appId, db);
    return { appId, servicePrincipalId: sp.object_id };
  }

  async ensureServicePrincipal(tenantId: string, appId: string, db: IdentityDb = this.db) {
    const existing = await identityStore.findServicePrincipal(db, tenantId, appId);
    if (existing) return existing;
    const app = await identityStore.getApplication(db, appId);
    const row = { object_id: newGuid(), tenant_id: tenantId, app_id: appId, display_name: app?.display_name ?? appId, created_at: this.clock.now() };
    await identityStore.insertServicePrincipal(db, row);
    return row;
  }

  async addClientSecret(appId: string, years = 2, db: IdentityDb = this.db): Promise<string> {
    const secret = newSecret();
    const now = this.clock.now();
    await identityStore.insertClientSecret(db, {
      id: newGuid(),
      app_id: appId,
      secret_hash: hashSecret(secret),
      hint: secret.slice(0, 3),
      created_at: now,
      expires_at: new Date(Date.UTC(now.getUTCFullYear() + years, now.getUTCMonth(), now.getUTCDate())),
    });
    return secret;
  }

  /**
   * A directory with a Global Administrator (password) and an automation application (secret):
   * how the CSP, the operator and new partners start.
   */
  async createAdministeredDirectory(displayName: string, domain: string, kind: NewDirectory['kind'], db: IdentityDb = this.db): Promise<AdministeredDirectory> {
    const dir = await this.createDirectory({ displayName, domain, kind }, db);
    const password = newPassword();
    const admin = await this.createUser(
      { tenantId: dir.tenant_id, userPrincipalName: `admin@${domain}`, displayName: `${displayName} administrator`, password, directoryRole: 'GlobalAdministrator' },
      db,
    );
    const app = await this.createApplication({ homeTenantId: dir.tenant_id, displayName: `${displayName} automation` }, db);
    const secret = await this.addClientSecret(app.appId, 2, db);
    return {
      tenantId: dir.tenant_id,
      domain,
      clientId: app.appId,
      clientSecret: secret,
      servicePrincipalId: app.servicePrincipalId,
      admin: { userName: admin.user_principal_name, password, objectId: admin.object_id },
    };
  }

  /** A first-party API (no home directory) whose identifier URIs are where it is served now. */
  async registerFirstPartyApi(appId: string, displayName: string, identifierUris: string[]): Promise<void> {
    await identityStore.insertApplication(this.db, {
      app_id: appId,
      home_tenant_id: null,
      display_name: displayName,
      identifier_uris: identifierUris,
      public_client: false,
      created_at: this.clock.now(),
    });
    await identityStore.setIdentifierUris(this.db, appId, identifierUris);
  }

  async setIdentifierUris(appId: string, uris: string[]): Promise<void> {
    await identityStore.setIdentifierUris(this.db, appId, uris);
  }

  async principalType(objectId: string): Promise<string | undefined> {
    if (!isGuid(objectId)) return undefined;
    if (await identityStore.getUser(this.db, objectId)) return 'User';
    if (await identityStore.getServicePrincipal(this.db, objectId)) return 'ServicePrincipal';
    return undefined;
  }

  async tenantsOf(principal: Principal): Promise<TenantInfo[]> {
    const user = principal.kind === 'User' ? await identityStore.getUser(this.db, principal.objectId) : undefined;
    if (user) {
      const person = user.home_object_id ?? user.object_id;
      const rows = await identityStore.directoriesOfPerson(this.db, person);
      return rows.map((d) => ({ tenantId: d.tenant_id, displayName: d.display_name, defaultDomain: d.default_domain }));
    }
    const dir = await identityStore.getDirectory(this.db, principal.tenantId);
    return dir ? [{ tenantId: dir.tenant_id, displayName: dir.display_name, defaultDomain: dir.default_domain }] : [{ tenantId: principal.tenantId }];
  }

  // ---- tokens -------------------------------------------------------------------------------

  async #resolveTenant(segment: string, userName?: string): Promise<DirectoriesTable> {
    const s = segment.toLowerCase();
    let dir: DirectoriesTable | undefined;
    if (isGuid(s)) dir = await identityStore.getDirectory(this.db, s);
    else if (['common', 'organizations'].includes(s) && userName) {
      const member = await identityStore.findMemberByUpn(this.db, userName);
      dir = member ? await identityStore.getDirectory(this.db, member.tenant_id) : undefined;
    } else dir = await identityStore.findDirectoryByDomain(this.db, s);
    if (!dir) throw oauthErrors.tenantNotFound(segment);
    return dir;
  }

  async #resolveResource(version: 'v1' | 'v2', form: Record<string, string>): Promise<string> {
    let resource: string | undefined;
    if (version === 'v1') {
      resource = form.resource;
      if (!resource) throw oauthErrors.missingParameter('resource');
    } else {
      if (!form.scope) throw oauthErrors.missingParameter('scope');
      resource = resourceFromScope(form.scope);
      if (!resource) throw oauthErrors.invalidScope(form.scope);
    }
    const app = await identityStore.findApplicationByIdentifierUri(this.db, normalizeAudience(resource));
    if (!app) throw oauthErrors.invalidResource(resource);
    return app.identifier_uris.find((u) => normalizeAudience(u) === normalizeAudience(resource)) ?? resource;
  }

  /** The token endpoint: client credentials and password grants, in the v1 and v2 shapes. */
  async token(tenantSegment: string, version: 'v1' | 'v2', form: Record<string, string>): Promise<TokenResponse> {
    const grant = form.grant_type;
    if (!grant) throw oauthErrors.missingParameter('grant_type');
    if (grant !== 'client_credentials' && grant !== 'password') throw oauthErrors.unsupportedGrant(grant);
    if (!form.client_id) throw oauthErrors.missingParameter('client_id');
    const clientId = form.client_id.toLowerCase();
    if (grant === 'password') {
      if (!form.username) throw oauthErrors.missingParameter('username');
      if (!form.password) throw oauthErrors.missingParameter('password');
    }
    const directory = await this.#resolveTenant(tenantSegment, form.username);
    const audience = await this.#resolveResource(version, form);
    const app = isGuid(clientId) ? await identityStore.getApplication(this.db, clientId) : undefined;
    if (!app) throw oauthErrors.appNotFound(form.client_id, directory.tenant_id);

    let subject: { oid: string; extra: Record<string, unknown> };
    if (grant === 'client_credentials') {
      if (!form.client_secret) throw oauthErrors.missingParameter('client_secret');
      const hashes = await identityStore.liveSecretHashes(this.db, app.app_id, new Date());
      if (!hashes.some((h) => secretMatches(form.client_secret, h))) throw oauthErrors.badSecret(app.app_id);
      const sp = await identityStore.findServicePrincipal(this.db, directory.tenant_id, app.app_id);
      if (!sp) throw oauthErrors.appNotFound(app.app_id, directory.tenant_id);
      subject = { oid: sp.object_id, extra: { appid: app.app_id, azp: app.app_id, idtyp: 'app', app_displayname: app.display_name } };
    } else {
      if (!app.public_client) throw oauthErrors.notPublicClient(app.app_id);
      const member = await identityStore.findMemberByUpn(this.db, form.username);
      if (!member || !member.password_hash || !(await passwordMatches(form.password, member.password_hash))) throw oauthErrors.badPassword();
      let account: UsersTable | undefined = member;
      if (member.tenant_id !== directory.tenant_id) account = await identityStore.findGuest(this.db, directory.tenant_id, member.object_id);
      if (!account) throw oauthErrors.userNotInTenant(form.username, directory.tenant_id);
      // A guest's first sign-in redeems its invitation.
      if (account.user_type === 'Guest') await identityStore.completeInvitations(this.db, account.object_id, this.clock.now());
      subject = {
        oid: account.object_id,
        extra: {
          appid: app.app_id,
          azp: app.app_id,
          idtyp: 'user',
          upn: member.user_principal_name,
          unique_name: member.user_principal_name,
          name: member.display_name,
          ...(account.user_type === 'Guest' ? { idp: issuersFor(this.loginBase(), member.tenant_id)[0] } : {}),
        },
      };
    }

    const now = Math.floor(Date.now() / 1000);
    const exp = now + TOKEN_LIFETIME_SECONDS;
    const [issuerV1, issuerV2] = issuersFor(this.loginBase(), directory.tenant_id);
    const signing = this.#signing!;
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
}
