import { SignJWT, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { type Clock, DAY_MS } from '../core/clock.ts';
import { armError } from '../core/errors.ts';
import { hashPassword, hashSecret, isGuid, newGuid, newPassword, newSecret, secretMatches } from '../core/ids.ts';
import type { Sealer } from '../core/sealed.ts';
import type { Principal } from '../core/principal.ts';
import type { TenantInfo } from '../arm/service.ts';
import { tenantPage } from '../arm/context.ts';
import type { Cursor } from '../core/paging.ts';
import { DEFAULT_SIGN_IN_POLICY, WELL_KNOWN_PUBLIC_CLIENTS, type SignInPolicy } from './rules.ts';
import { SigningKeys } from './signing.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { DirectoriesTable, UsersTable } from './tables.ts';

// Directories, users, applications and service principals, their credentials and the keys that
// sign their tokens (the token endpoint itself is token.ts). Tokens, lock-outs and credential
// lifetimes keep real time (not the simulated clock); records keep domain time.

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
  accountEnabled?: boolean;
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

export interface IdentityOptions {
  /** Seals the signing key and the secrets the system hands out again. */
  sealer: Sealer;
  signIn?: Partial<SignInPolicy>;
}

/** A client secret as made: the text is shown once. */
export interface NewClientSecret {
  secretText: string;
  keyId: string;
  hint: string;
  displayName: string | null;
  startDateTime: Date;
  endDateTime: Date;
}

const DEFAULT_SECRET_LIFETIME_MS = 2 * 365 * DAY_MS;
const heldSecretPurpose = (appId: string) => `client secret of ${appId}`;

export class IdentityService {
  readonly #keys: SigningKeys;
  readonly #sealer: Sealer;
  readonly signInPolicy: SignInPolicy;

  constructor(
    readonly db: IdentityDb,
    readonly clock: Clock,
    readonly loginBase: () => string,
    options: IdentityOptions,
  ) {
    this.#sealer = options.sealer;
    this.#keys = new SigningKeys(db, options.sealer);
    this.signInPolicy = { ...DEFAULT_SIGN_IN_POLICY, ...options.signIn };
  }

  /** Loads the signing keys (made on first start; they persist so tokens survive restarts). */
  async init(): Promise<void> {
    await this.#keys.load();
    for (const c of WELL_KNOWN_PUBLIC_CLIENTS) {
      await identityStore.insertApplication(this.db, {
        app_id: c.appId,
        home_tenant_id: null,
        display_name: c.displayName,
        identifier_uris: [],
        public_client: true,
        created_at: this.clock.now(),
        holds_secret: false,
      });
    }
  }

  /** Signs claims with the hub's key (activation keys and other statements the hub vouches for). */
  async signClaims(claims: Record<string, unknown>, audience: string): Promise<string> {
    const signing = this.#keys.current();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signing.kid })
      .setIssuer(this.loginBase())
      .setAudience(audience)
      .setIssuedAt()
      .sign(signing.key);
  }

  jwks(): JSONWebKeySet {
    return this.#keys.jwks();
  }

  keySet(): JWTVerifyGetKey {
    return this.#keys.keySet();
  }

  // ---- directories and accounts ----------------------------------------------------------------

  async createDirectory(input: NewDirectory, db: IdentityDb = this.db): Promise<DirectoriesTable> {
    if (await identityStore.findDirectoryByDomain(db, input.domain)) {
      throw armError(
        'DomainAlreadyExists',
        `The domain '${input.domain}' is already taken by another directory.`,
        'domain',
      );
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
    return isGuid(segment)
      ? identityStore.getDirectory(this.db, segment.toLowerCase())
      : identityStore.findDirectoryByDomain(this.db, segment);
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
      account_enabled: input.accountEnabled ?? true,
      failed_sign_ins: 0,
      locked_until: null,
    };
    await identityStore.insertUser(db, row);
    return row;
  }

  /**
   * Registers an application in its home directory. As in Graph, it has no service principal (and
   * so cannot sign in) until one is created: `ensureServicePrincipal`, or `POST /servicePrincipals`.
   */
  async createApplication(
    input: {
      homeTenantId: string;
      displayName: string;
      identifierUris?: string[];
      appId?: string;
      holdsSecret?: boolean;
    },
    db: IdentityDb = this.db,
  ) {
    const appId = input.appId ?? newGuid();
    const now = this.clock.now();
    await identityStore.insertApplication(db, {
      app_id: appId,
      home_tenant_id: input.homeTenantId,
      display_name: input.displayName,
      identifier_uris: input.identifierUris ?? [],
      public_client: false,
      created_at: now,
      holds_secret: input.holdsSecret ?? false,
    });
    return { appId };
  }

  async ensureServicePrincipal(tenantId: string, appId: string, db: IdentityDb = this.db) {
    const existing = await identityStore.findServicePrincipal(db, tenantId, appId);
    if (existing) return existing;
    const app = await identityStore.getApplication(db, appId);
    const row = {
      object_id: newGuid(),
      tenant_id: tenantId,
      app_id: appId,
      display_name: app?.display_name ?? appId,
      created_at: this.clock.now(),
    };
    await identityStore.insertServicePrincipal(db, row);
    return row;
  }

  /**
   * A new secret of an application, valid from now (real time) until `endDateTime` (two years by
   * default). Only its salted hash is kept, and, if the application holds its secret, the secret sealed.
   */
  async addClientSecret(
    appId: string,
    options: { displayName?: string; endDateTime?: Date } = {},
    db: IdentityDb = this.db,
  ): Promise<NewClientSecret> {
    const app = await identityStore.getApplication(db, appId);
    if (!app) throw new Error(`no application ${appId}`);
    const secretText = newSecret();
    const start = new Date();
    const created = {
      secretText,
      keyId: newGuid(),
      hint: secretText.slice(0, 3),
      displayName: options.displayName ?? null,
      startDateTime: start,
      endDateTime: options.endDateTime ?? new Date(start.getTime() + DEFAULT_SECRET_LIFETIME_MS),
    };
    await identityStore.insertClientSecret(db, {
      id: created.keyId,
      app_id: appId,
      secret_hash: hashSecret(secretText),
      hint: created.hint,
      display_name: created.displayName,
      sealed_secret: app.holds_secret ? this.#sealer.seal(secretText, heldSecretPurpose(appId)) : null,
      created_at: start,
      expires_at: created.endDateTime,
    });
    return created;
  }

  /** The newest live secret of an application that holds its secret: what bootstrap.json gets. */
  async heldSecret(appId: string): Promise<string | undefined> {
    const row = await identityStore.heldSecret(this.db, appId, new Date());
    return row?.sealed_secret ? this.#sealer.open(row.sealed_secret, heldSecretPurpose(appId)) : undefined;
  }

  /**
   * Upgrade of a data folder of the first version, which kept the system's own secrets in plain
   * text elsewhere: the application now holds the live secret that `secretText` is. False if none is.
   */
  async holdExistingSecret(appId: string, secretText: string): Promise<boolean> {
    const rows = await identityStore.liveSecretsWithHashes(this.db, appId, new Date());
    const match = rows.find((r) => secretMatches(secretText, r.secret_hash));
    if (!match) return false;
    await identityStore.markHoldsSecret(this.db, appId);
    await identityStore.setSealedSecret(this.db, match.id, this.#sealer.seal(secretText, heldSecretPurpose(appId)));
    return true;
  }

  /**
   * A directory with a Global Administrator (password) and an automation application (secret):
   * how the CSP, the operator and new partners start.
   */
  async createAdministeredDirectory(
    displayName: string,
    domain: string,
    kind: NewDirectory['kind'],
    db: IdentityDb = this.db,
    options: { holdsSecret?: boolean } = {},
  ): Promise<AdministeredDirectory> {
    const dir = await this.createDirectory({ displayName, domain, kind }, db);
    const password = newPassword();
    const admin = await this.createUser(
      {
        tenantId: dir.tenant_id,
        userPrincipalName: `admin@${domain}`,
        displayName: `${displayName} administrator`,
        password,
        directoryRole: 'GlobalAdministrator',
      },
      db,
    );
    const app = await this.createApplication(
      { homeTenantId: dir.tenant_id, displayName: `${displayName} automation`, holdsSecret: options.holdsSecret },
      db,
    );
    const sp = await this.ensureServicePrincipal(dir.tenant_id, app.appId, db);
    const secret = (await this.addClientSecret(app.appId, {}, db)).secretText;
    return {
      tenantId: dir.tenant_id,
      domain,
      clientId: app.appId,
      clientSecret: secret,
      servicePrincipalId: sp.object_id,
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
      holds_secret: false,
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

  /** A page of GET /tenants: a user's directories (its own and where it is a guest), an application's one. */
  async tenantsOf(principal: Principal, cursor: Cursor): Promise<TenantInfo[]> {
    const user = principal.kind === 'User' ? await identityStore.getUser(this.db, principal.objectId) : undefined;
    if (user) {
      const person = user.home_object_id ?? user.object_id;
      const rows = await identityStore.directoriesOfPerson(this.db, person, cursor);
      return rows.map((d) => ({ tenantId: d.tenant_id, displayName: d.display_name, defaultDomain: d.default_domain }));
    }
    const dir = await identityStore.getDirectory(this.db, principal.tenantId);
    return tenantPage(
      dir
        ? { tenantId: dir.tenant_id, displayName: dir.display_name, defaultDomain: dir.default_domain }
        : { tenantId: principal.tenantId },
      cursor,
    );
  }

  /** The key that signs new tokens. */
  signingKey() {
    return this.#keys.current();
  }
}
