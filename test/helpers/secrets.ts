// What only the holder of a data folder's secrets key can read: the sealed values of the databases.
import { importJWK } from 'jose';
import type pg from 'pg';
import { loadSealer, type Sealer } from '../../src/core/sealed.ts';
import { openPrivateJwk } from '../../src/identity/signing.ts';
import { openStackRecord, type StackBootstrap } from '../../src/system/bootstrap.ts';

/** The sealer of a data folder (its DIR/keys/secrets.key), whatever the environment says. */
export const sealerOf = (dataDir: string): Promise<Sealer> => loadSealer(dataDir, {});

/** The stack's bootstrap record, its application secret opened. */
export async function stackRecord(stackDb: pg.Client, dataDir: string): Promise<StackBootstrap> {
  const { rows } = await stackDb.query(`select value from settings where key = 'bootstrap'`);
  return openStackRecord(await sealerOf(dataDir), rows[0].value);
}

/** The hub's newest signing key, opened. */
export async function hubSigningKey(hubDb: pg.Client, dataDir: string): Promise<{ kid: string; key: CryptoKey | Uint8Array }> {
  const { rows } = await hubDb.query('select kid, private_key_sealed from signing_keys order by created_at desc limit 1');
  return { kid: rows[0].kid, key: await importJWK(openPrivateJwk(await sealerOf(dataDir), rows[0].kid, rows[0].private_key_sealed), 'RS256') };
}
