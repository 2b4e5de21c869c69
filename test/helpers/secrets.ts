// What only the holder of a data folder's secrets key can read: the sealed values of the databases.
import { importJWK } from 'jose';
import pg from 'pg';
import { loadSealer, type Sealer } from '../../src/core/sealed.ts';
import { openPrivateJwk } from '../../src/identity/signing.ts';
import { withDatabase } from '../../src/db/database.ts';
import { openStackRecord, type StackBootstrap } from '../../src/system/bootstrap.ts';
import { testServerUrl, type TestSystem } from './system.ts';

/** The sealer of a data folder (its DIR/keys/secrets.key), whatever the environment says. */
export const sealerOf = (dataDir: string): Promise<Sealer> => loadSealer(dataDir, {});

/** The stack's bootstrap record, its application secret opened. */
export async function stackRecord(stackDb: pg.Client, dataDir: string): Promise<StackBootstrap> {
  const { rows } = await stackDb.query(`select value from settings where key = 'bootstrap'`);
  return openStackRecord(await sealerOf(dataDir), rows[0].value);
}

/** The hub's newest signing key, opened. */
export async function hubSigningKey(
  hubDb: pg.Client,
  dataDir: string,
): Promise<{ kid: string; key: CryptoKey | Uint8Array }> {
  const { rows } = await hubDb.query(
    'select kid, private_key_sealed from signing_keys order by created_at desc limit 1',
  );
  return {
    kid: rows[0].kid,
    key: await importJWK(openPrivateJwk(await sealerOf(dataDir), rows[0].kid, rows[0].private_key_sealed), 'RS256'),
  };
}

/** A token of the stack's own application (a deployment's voice), from its sealed record. */
export async function stackApplicationToken(t: TestSystem, resource = t.b.hub.arm): Promise<string> {
  const stackDb = new pg.Client({ connectionString: withDatabase(testServerUrl(), `${t.dbPrefix}_stack_local`) });
  await stackDb.connect();
  try {
    const app = await stackRecord(stackDb, t.dataDir);
    const res = await t.http.call('POST', `${t.b.hub.login}/${app.homeDirectory}/oauth2/token`, {
      form: {
        grant_type: 'client_credentials',
        client_id: app.applicationId,
        client_secret: app.applicationSecret,
        resource,
      },
    });
    return res.access_token as string;
  } finally {
    await stackDb.end();
  }
}
