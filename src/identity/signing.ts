import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import { newGuid } from '../core/ids.ts';
import type { Sealer } from '../core/sealed.ts';
import { identityStore, type IdentityDb } from './store.ts';

// The hub's token signing keys. They live in the hub database so that tokens survive restarts; the
// private part is sealed (core/sealed.ts), so a dump of the database cannot sign a token.

const purposeOf = (kid: string) => `signing key ${kid}`;

/** A stored key's private part, opened. */
export const openPrivateJwk = (sealer: Sealer, kid: string, sealed: string): JWK =>
  JSON.parse(sealer.open(sealed, purposeOf(kid))) as JWK;

export class SigningKeys {
  #current?: { kid: string; key: CryptoKey | Uint8Array };
  #jwks: JSONWebKeySet = { keys: [] };
  #keySet?: JWTVerifyGetKey;

  constructor(
    private readonly db: IdentityDb,
    private readonly sealer: Sealer,
  ) {}

  /** Loads the keys, making the first one on first start and sealing any kept in plain text before. */
  async load(): Promise<void> {
    let rows = await identityStore.signingKeys(this.db);
    if (rows.length === 0) {
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const kid = newGuid();
      const publicJwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
      const sealed = this.sealer.seal(JSON.stringify(await exportJWK(privateKey)), purposeOf(kid));
      await identityStore.insertSigningKey(this.db, {
        kid,
        private_jwk: null,
        private_key_sealed: sealed,
        public_jwk: publicJwk,
        created_at: new Date(),
      });
      rows = await identityStore.signingKeys(this.db);
    }
    for (const row of rows) {
      if (row.private_key_sealed === null && row.private_jwk !== null) {
        row.private_key_sealed = this.sealer.seal(JSON.stringify(row.private_jwk), purposeOf(row.kid));
        await identityStore.sealSigningKey(this.db, row.kid, row.private_key_sealed);
      }
    }
    const newest = rows[0];
    this.#current = {
      kid: newest.kid,
      key: await importJWK(openPrivateJwk(this.sealer, newest.kid, newest.private_key_sealed!), 'RS256'),
    };
    this.#jwks = { keys: rows.map((r) => r.public_jwk as JWK) };
    this.#keySet = createLocalJWKSet(this.#jwks);
  }

  /** The key that signs new tokens. */
  current(): { kid: string; key: CryptoKey | Uint8Array } {
    if (!this.#current) throw new Error('signing keys not loaded');
    return this.#current;
  }

  jwks(): JSONWebKeySet {
    return this.#jwks;
  }

  keySet(): JWTVerifyGetKey {
    if (!this.#keySet) throw new Error('signing keys not loaded');
    return this.#keySet;
  }
}
