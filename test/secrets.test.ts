// Secrets at rest: sealed values, a data folder and its databases with no secret in plain text,
// rotation of the system's credentials and of the stack's secret, and the upgrade of a data folder
// of the first version (plain-text secrets) in place.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { decodeProtectedHeader } from 'jose';
import pg from 'pg';
import { loadSealer, Sealer, SECRETS_KEY_ENV, secretsKeyFile } from '../src/core/sealed.ts';
import { newGuid, newSecret } from '../src/core/ids.ts';
import { withDatabase } from '../src/db/database.ts';
import { openPrivateJwk } from '../src/identity/signing.ts';
import { saveCustomer } from '../src/cli/client.ts';
import { cliJson } from './helpers/cli.ts';
import { customerWithSubscription, secondPartner } from './helpers/partner.ts';
import { onboardCustomer } from './helpers/stack.ts';
import { sealerOf, stackRecord } from './helpers/secrets.ts';
import { dropDatabases, startTestSystem, testServerUrl, type TestSystem } from './helpers/system.ts';

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

/** Every file under a folder. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out;
}

/** Every row of every table of a database, as text (what a dump would hold). */
async function dumpText(client: pg.Client): Promise<string> {
  const { rows: tables } = await client.query(
    `select schemaname, tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema')`,
  );
  const parts: string[] = [];
  for (const t of tables) {
    const { rows } = await client.query(`select t::text as row from "${t.schemaname}"."${t.tablename}" t`);
    parts.push(...rows.map((r) => r.row as string));
  }
  return parts.join('\n');
}

async function connected(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

async function tokenStatus(
  t: TestSystem,
  tenantId: string,
  clientId: string,
  clientSecret: string,
): Promise<{ status: number; codes?: number[] }> {
  const res = await t.call('POST', `${t.b.hub.login}/${tenantId}/oauth2/token`, {
    form: { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, resource: t.b.hub.arm },
  });
  return { status: res.status, codes: res.body.error_codes };
}

describe('sealed values (core/sealed.ts)', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('opens only what it sealed, for the same purpose, untouched', () => {
    const sealer = new Sealer(randomBytes(32));
    const sealed = sealer.seal('the secret', 'purpose A');
    assert.ok(!sealed.includes('the secret'));
    assert.notEqual(sealer.seal('the secret', 'purpose A'), sealed, 'a fresh nonce each time');
    assert.equal(sealer.open(sealed, 'purpose A'), 'the secret');
    assert.throws(() => sealer.open(sealed, 'purpose B'), /does not open/);
    assert.throws(() => new Sealer(randomBytes(32)).open(sealed, 'purpose A'), /does not open/);
    const raw = Buffer.from(sealed.slice('sealed.v1.'.length), 'base64url');
    raw[raw.length - 1] ^= 1;
    assert.throws(() => sealer.open(`sealed.v1.${raw.toString('base64url')}`, 'purpose A'), /does not open/);
    assert.throws(() => sealer.open('plain text', 'purpose A'), /not a sealed value/);
    assert.throws(() => new Sealer(randomBytes(16)), /32 bytes/);
  });

  it('keeps its key in DIR/keys/secrets.key (0600), made once, unless the environment gives one', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'stackledger-sealed-'));
    dirs.push(dir);
    const first = await loadSealer(dir, {});
    assert.equal(await modeOf(secretsKeyFile(dir)), 0o600);
    assert.equal(await modeOf(path.dirname(secretsKeyFile(dir))), 0o700);
    const sealed = first.seal('x', 'p');
    assert.equal((await loadSealer(dir, {})).open(sealed, 'p'), 'x', 'the same key at the next start');

    const key = randomBytes(32).toString('base64');
    const fromEnv = await loadSealer(dir, { [SECRETS_KEY_ENV]: key });
    assert.throws(() => fromEnv.open(sealed, 'p'), 'the environment key wins over the file');
    assert.equal(new Sealer(Buffer.from(key, 'base64')).open(fromEnv.seal('y', 'p'), 'p'), 'y');
    await assert.rejects(loadSealer(dir, { [SECRETS_KEY_ENV]: 'c2hvcnQ=' }), /32 random bytes/);
  });
});

describe('generated secrets (core/ids.ts)', () => {
  it("never start with '-', which `az login -p` would read as an option", () => {
    // a base64url character is '-' one time in 64: 4,000 secrets would show one
    const secrets = Array.from({ length: 4000 }, newSecret);
    assert.equal(secrets.filter((s) => s.startsWith('-')).length, 0);
    assert.equal(new Set(secrets).size, secrets.length);
    assert.ok(secrets.every((s) => s.length === 40));
  });
});

describe('secrets at rest', () => {
  it('leaves no secret in plain text in the data folder, its database files and WAL, or a dump', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'stackledger-secrets-'));
    // Files that existed with a looser mode are made private again.
    await writeFile(path.join(dataDir, 'bootstrap.json'), '{}\n', { mode: 0o644 });
    await writeFile(path.join(dataDir, 'customers.json'), '[]\n', { mode: 0o644 });
    // The embedded cluster in DIR/pg, as `stackledger up` runs it.
    const t = await startTestSystem({ dataDir, databaseUrl: undefined });
    let stopped = false;
    const clients: pg.Client[] = [];
    try {
      assert.equal(await modeOf(path.join(dataDir, 'bootstrap.json')), 0o600);
      const customer = await customerWithSubscription(t, 'sealedco');
      await saveCustomer(dataDir, {
        id: customer.customerId,
        domain: 'sealedco.onstackledger.local',
        companyName: 'Sealed',
        admin: customer.admin,
      });
      assert.equal(await modeOf(path.join(dataDir, 'customers.json')), 0o600);
      const { partner } = await secondPartner(t, 'sealedpartner');

      const port = readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')
        .split('\n')[3]
        .trim();
      const url = (db: string) => `postgres://postgres:stackledger@127.0.0.1:${port}/${db}`;
      const hubDb = await connected(url('hub'));
      const stackDb = await connected(url('stack_local'));
      clients.push(hubDb, stackDb);
      const stackSecret = (await stackRecord(stackDb, dataDir)).applicationSecret;
      const { rows: keys } = await hubDb.query('select kid, private_key_sealed, private_jwk from signing_keys');
      assert.equal(keys[0].private_jwk, null);
      const privateExponent = String(
        openPrivateJwk(await sealerOf(dataDir), keys[0].kid, keys[0].private_key_sealed).d,
      );

      const secrets: Record<string, string> = {
        "the CSP's client secret": t.b.csp.clientSecret,
        "the operator's client secret": t.b.operator.clientSecret,
        "the CSP administrator's password": t.b.csp.admin.password,
        "the operator administrator's password": t.b.operator.admin.password,
        "the stack application's secret": stackSecret,
        "a customer's first administrator's password": customer.admin.password,
        "a new partner's client secret": partner.clientSecret,
        "a new partner administrator's password": partner.admin.password,
        "the signing key's private exponent": privateExponent,
      };
      const dump = (await dumpText(hubDb)) + '\n' + (await dumpText(stackDb));
      assert.ok(dump.includes(t.b.csp.admin.userName), 'the dump holds the data');
      for (const [name, secret] of Object.entries(secrets)) assert.ok(!dump.includes(secret), `a dump holds ${name}`);
      for (const db of [hubDb, stackDb]) await db.query('checkpoint');
      await Promise.all(clients.splice(0).map((c) => c.end()));

      await t.stop();
      stopped = true;
      const files = await filesUnder(dataDir);
      assert.ok(
        files.some((f) => f.includes(`${path.sep}pg_wal${path.sep}`)),
        'the write-ahead log is searched too',
      );
      const needles = Object.entries(secrets).map(([name, s]) => [name, Buffer.from(s)] as const);
      let holdsData = false;
      for (const file of files) {
        if ([path.join(dataDir, 'bootstrap.json'), path.join(dataDir, 'customers.json')].includes(file)) continue;
        const bytes = await readFile(file);
        holdsData ||= bytes.includes(Buffer.from(t.b.csp.admin.userName));
        for (const [name, needle] of needles)
          assert.ok(!bytes.includes(needle), `${path.relative(dataDir, file)} holds ${name}`);
      }
      assert.ok(holdsData, 'the database files hold the data in plain text, so the search would find a secret');
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      if (!stopped) await t.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** A system on databases and a data folder of the test's own, which it can stop and start again. */
function restartable() {
  const prefix = `t_${newGuid().replaceAll('-', '').slice(0, 16)}`;
  let dataDir: string | undefined;
  return {
    prefix,
    dir: () => dataDir!,
    hubDb: () => connected(withDatabase(testServerUrl(), `${prefix}_hub`)),
    stackDb: () => connected(withDatabase(testServerUrl(), `${prefix}_stack_local`)),
    async start(options: Parameters<typeof startTestSystem>[0] = {}) {
      dataDir ??= await mkdtemp(path.join(tmpdir(), 'stackledger-secrets-'));
      return startTestSystem({ ...options, dataDir, databaseUrl: withDatabase(testServerUrl(), prefix) });
    },
    async remove() {
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
      await dropDatabases(prefix);
    },
  };
}

describe('rotation', () => {
  const systems: Array<ReturnType<typeof restartable>> = [];
  after(async () => {
    for (const s of systems) await s.remove();
  });

  it("rotates the CSP's and the operator's secrets (stackledger credentials rotate): the old stops working, the new one is kept", async () => {
    const r = restartable();
    systems.push(r);
    let t: TestSystem | undefined = await r.start();
    try {
      const before = t.b;
      for (const as of ['csp', 'operator'] as const) {
        const rotation = await cliJson(['credentials', 'rotate', '--data', r.dir(), '--as', as]);
        const written = JSON.parse(readFileSync(path.join(r.dir(), 'bootstrap.json'), 'utf8'));
        assert.equal(await modeOf(path.join(r.dir(), 'bootstrap.json')), 0o600);
        const fresh = written[as].clientSecret;
        assert.notEqual(fresh, before[as].clientSecret);
        assert.deepEqual(
          await tokenStatus(t, before[as].tenantId, before[as].clientId, before[as].clientSecret),
          { status: 401, codes: [7000215] },
          `${as}: the old secret`,
        );
        assert.equal(
          (await tokenStatus(t, before[as].tenantId, before[as].clientId, fresh)).status,
          200,
          `${as}: the new secret`,
        );
        const graph = await t.http.call('POST', `${t.b.hub.login}/${before[as].tenantId}/oauth2/token`, {
          form: {
            grant_type: 'client_credentials',
            client_id: before[as].clientId,
            client_secret: fresh,
            resource: t.b.hub.graph,
          },
        });
        const app: { passwordCredentials: { keyId: string; secretText: string | null }[] } = await t.http.call(
          'GET',
          `${t.b.hub.graph}/v1.0/applications/${before[as].clientId}`,
          {
            token: graph.access_token,
          },
        );
        assert.deepEqual(
          app.passwordCredentials.map((c: { keyId: unknown; secretText: unknown }) => [c.keyId, c.secretText]),
          [[rotation.keyId, null]],
          `${as}: one secret left, never shown again`,
        );
      }
      // The hub holds the new secrets: the next start writes them, and the stack starts with the operator's.
      const rotated = JSON.parse(readFileSync(path.join(r.dir(), 'bootstrap.json'), 'utf8'));
      await t.stop();
      t = undefined;
      t = await r.start();
      assert.equal(t.b.csp.clientSecret, rotated.csp.clientSecret);
      assert.equal(t.b.operator.clientSecret, rotated.operator.clientSecret);
      assert.equal((await tokenStatus(t, t.b.csp.tenantId, t.b.csp.clientId, t.b.csp.clientSecret)).status, 200);
    } finally {
      await t?.stop();
    }
  });

  it('adds and removes application secrets through the directory API, for the application’s own directory only', async () => {
    const r = restartable();
    systems.push(r);
    const t = await r.start();
    try {
      const graph = t.b.hub.graph;
      const app = `${graph}/v1.0/applications/${t.b.csp.clientId}`;
      const admin = await t.userToken(t.b.csp.tenantId, t.b.csp.admin.userName, t.b.csp.admin.password, graph);
      const operator = await t.appToken('operator', graph);

      const past = await t.call('POST', `${app}/addPassword`, {
        token: admin,
        body: { passwordCredential: { endDateTime: '2020-01-01T00:00:00Z' } },
      });
      assert.equal(past.status, 400);
      assert.equal(past.body.error.code, 'Request_BadRequest');
      const foreign = await t.call('POST', `${app}/addPassword`, { token: operator, body: {} });
      assert.equal(foreign.status, 404, 'another directory does not see the application');

      const endDateTime = new Date(Date.now() + 7 * 86_400_000).toISOString();
      const added = await t.call('POST', `${app}/addPassword`, {
        token: admin,
        body: { passwordCredential: { displayName: 'ci', endDateTime } },
      });
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.equal(added.body.displayName, 'ci');
      assert.equal(added.body.endDateTime, endDateTime);
      assert.equal(added.body.hint, added.body.secretText.slice(0, 3));
      assert.equal((await tokenStatus(t, t.b.csp.tenantId, t.b.csp.clientId, added.body.secretText)).status, 200);

      const listed = await t.call('GET', app, { token: admin });
      assert.equal(listed.body.passwordCredentials.length, 2, 'the bootstrap secret and the new one');
      const listedNew = listed.body.passwordCredentials.find((c: { keyId: unknown }) => c.keyId === added.body.keyId);
      assert.deepEqual(listedNew, { ...added.body, secretText: null }, 'listed as made, without its text');
      assert.ok(listed.body.passwordCredentials.every((c: { secretText: unknown }) => c.secretText === null));

      const byForeign = await t.call('POST', `${app}/removePassword`, {
        token: operator,
        body: { keyId: added.body.keyId },
      });
      assert.equal(byForeign.status, 404);
      const unknown = await t.call('POST', `${app}/removePassword`, { token: admin, body: { keyId: newGuid() } });
      assert.equal(unknown.status, 400);
      const noKey = await t.call('POST', `${app}/removePassword`, { token: admin, body: {} });
      assert.equal(noKey.status, 400);
      assert.equal(
        (await tokenStatus(t, t.b.csp.tenantId, t.b.csp.clientId, added.body.secretText)).status,
        200,
        'refused requests removed nothing',
      );

      const removed = await t.call('POST', `${app}/removePassword`, {
        token: admin,
        body: { keyId: added.body.keyId },
      });
      assert.equal(removed.status, 204);
      assert.deepEqual(await tokenStatus(t, t.b.csp.tenantId, t.b.csp.clientId, added.body.secretText), {
        status: 401,
        codes: [7000215],
      });
      assert.equal(
        (await tokenStatus(t, t.b.csp.tenantId, t.b.csp.clientId, t.b.csp.clientSecret)).status,
        200,
        'the other secret still works',
      );
    } finally {
      await t.stop();
    }
  });

  it("rotates the stack's application secret before it ends, at start and as scheduled work", async () => {
    const r = restartable();
    systems.push(r);
    // Secrets that live ten days, renewed within thirty of their end: always due.
    const t = await r.start({
      policies: { stackSecret: { lifetimeMs: 10 * 86_400_000, renewBeforeMs: 30 * 86_400_000 } },
    });
    const stackDb = await r.stackDb();
    try {
      const operatorGraph = await t.appToken('operator', t.b.hub.graph);
      const credentials = async () =>
        (
          await t.http.call('GET', `${t.b.hub.graph}/v1.0/applications/${t.b.stacks.local.applicationId}`, {
            token: operatorGraph,
          })
        ).passwordCredentials as { keyId: string; secretText: string | null }[];
      const first = await stackRecord(stackDb, r.dir());
      const atStart = await credentials();
      assert.deepEqual(
        atStart.map((c) => c.keyId),
        [first.applicationSecretKeyId],
        'made at registration, rotated at start: one left',
      );
      const ends = Date.parse(first.applicationSecretEndsAt!);
      assert.ok(Math.abs(ends - (Date.now() + 10 * 86_400_000)) < 120_000, 'ends when the policy says');

      await t.system.scheduler.runDue();
      const second = await stackRecord(stackDb, r.dir());
      assert.notEqual(second.applicationSecretKeyId, first.applicationSecretKeyId);
      assert.deepEqual(
        (await credentials()).map((c) => c.keyId),
        [second.applicationSecretKeyId],
      );
      assert.deepEqual(await tokenStatus(t, first.homeDirectory, first.applicationId, first.applicationSecret), {
        status: 401,
        codes: [7000215],
      });
      assert.equal(
        (await tokenStatus(t, second.homeDirectory, second.applicationId, second.applicationSecret)).status,
        200,
      );

      // The stack checks consent with its new secret.
      const customer = await customerWithSubscription(t, 'rotatedco');
      await onboardCustomer(t, customer);
      const user = await t.userToken(
        customer.customerId,
        customer.admin.userName,
        customer.admin.password,
        t.b.stacks.local.tenantArm,
      );
      const subs = await t.call('GET', `${t.b.stacks.local.tenantArm}/subscriptions?api-version=2022-12-01`, {
        token: user,
      });
      assert.equal(subs.status, 200, JSON.stringify(subs.body));
    } finally {
      await stackDb.end();
      await t.stop();
    }
  });
});

describe('upgrade in place', () => {
  const r = restartable();
  after(() => r.remove());

  const legacyDigest = (secret: string) => createHash('sha256').update(secret).digest('base64url');

  it('seals the plain-text secrets of a data folder of the first version, and everything signs in as before', async () => {
    let t = await r.start();
    const before = t.b;
    const keysBefore = (await t.http.call('GET', `${t.b.hub.login}/common/discovery/keys`)).keys;
    const oldStack = await (async () => {
      const db = await r.stackDb();
      try {
        return await stackRecord(db, r.dir());
      } finally {
        await db.end();
      }
    })();
    await t.stop();

    // Back to the first version's format, as its code stored it.
    const sealer = await sealerOf(r.dir());
    const hubDb = await r.hubDb();
    const stackDb = await r.stackDb();
    try {
      const { rows: keys } = await hubDb.query('select kid, private_key_sealed from signing_keys');
      for (const k of keys)
        await hubDb.query('update signing_keys set private_jwk = $2 where kid = $1', [
          k.kid,
          JSON.stringify(openPrivateJwk(sealer, k.kid, k.private_key_sealed)),
        ]);
      const secretOf: Record<string, string> = {
        [before.csp.clientId]: before.csp.clientSecret,
        [before.operator.clientId]: before.operator.clientSecret,
        [oldStack.applicationId]: oldStack.applicationSecret,
      };
      const { rows: secrets } = await hubDb.query('select id, app_id from client_secrets');
      assert.equal(secrets.length, 3);
      for (const s of secrets)
        await hubDb.query('update client_secrets set secret_hash = $2 where id = $1', [
          s.id,
          legacyDigest(secretOf[s.app_id]),
        ]);
      const { rows: settings } = await hubDb.query(`select value from settings where key = 'bootstrap'`);
      const stored = settings[0].value;
      const plain = (who: 'csp' | 'operator') => ({
        ...stored[who],
        clientSecret: before[who].clientSecret,
        admin: { ...stored[who].admin, password: before[who].admin.password },
      });
      await hubDb.query(`update settings set value = $1 where key = 'bootstrap'`, [
        JSON.stringify({ csp: plain('csp'), operator: plain('operator') }),
      ]);
      await hubDb.query(`
        alter table signing_keys drop column private_key_sealed, alter column private_jwk set not null;
        alter table client_secrets drop column display_name, drop column sealed_secret;
        alter table applications drop column holds_secret;
        alter table users drop column account_enabled, drop column failed_sign_ins, drop column locked_until;
        delete from kysely_migration where name = '0103_secrets_and_sign_in';
      `);
      const { applicationSecretKeyId: _k, applicationSecretEndsAt: _e, ...firstVersionStack } = oldStack;
      await stackDb.query(`update settings set value = $1 where key = 'bootstrap'`, [
        JSON.stringify(firstVersionStack),
      ]);
      const legacyDump = await dumpText(hubDb);
      assert.ok(legacyDump.includes(before.csp.admin.password), 'the first version kept passwords so');
      assert.ok(legacyDump.includes(legacyDigest(before.csp.clientSecret)), 'and unsalted digests');
    } finally {
      await hubDb.end();
      await stackDb.end();
    }

    t = await r.start();
    const hub = await r.hubDb();
    const stack = await r.stackDb();
    try {
      assert.deepEqual(t.b.csp, before.csp, "the same CSP's credentials");
      assert.deepEqual(t.b.operator, before.operator, "the same operator's credentials");
      const dump = await dumpText(hub);
      for (const secret of [
        before.csp.clientSecret,
        before.operator.clientSecret,
        before.csp.admin.password,
        before.operator.admin.password,
      ])
        assert.ok(!dump.includes(secret));
      const { rows: keys } = await hub.query('select private_jwk, private_key_sealed from signing_keys');
      assert.ok(keys.every((k) => k.private_jwk === null && String(k.private_key_sealed).startsWith('sealed.v1.')));
      const { rows: hashes } = await hub.query('select secret_hash from client_secrets');
      assert.ok(
        hashes.every((h) => h.secret_hash.startsWith('sha256$')),
        'client secrets salted',
      );

      // The same signing key signs; the same credentials sign in.
      assert.deepEqual((await t.http.call('GET', `${t.b.hub.login}/common/discovery/keys`)).keys, keysBefore);
      const hubToken = await t.appToken('csp', t.b.hub.arm);
      assert.equal(decodeProtectedHeader(hubToken).kid, keysBefore[0].kid);
      assert.equal(
        (await t.call('GET', `${t.b.hub.arm}/subscriptions?api-version=2022-12-01`, { token: hubToken })).status,
        200,
      );
      for (const who of ['csp', 'operator'] as const)
        assert.equal(
          (await tokenStatus(t, before[who].tenantId, before[who].clientId, before[who].clientSecret)).status,
          200,
          who,
        );
      assert.ok(
        await t.userToken(before.csp.tenantId, before.csp.admin.userName, before.csp.admin.password, t.b.hub.arm),
      );

      // The stack's secret is sealed; with no known end it was rotated, and the old one revoked.
      const { rows } = await stack.query(`select value from settings where key = 'bootstrap'`);
      assert.match(rows[0].value.applicationSecret, /^sealed\.v1\./);
      const now = await stackRecord(stack, r.dir());
      assert.notEqual(now.applicationSecret, oldStack.applicationSecret);
      assert.deepEqual(
        await tokenStatus(t, oldStack.homeDirectory, oldStack.applicationId, oldStack.applicationSecret),
        { status: 401, codes: [7000215] },
      );
      assert.equal((await tokenStatus(t, now.homeDirectory, now.applicationId, now.applicationSecret)).status, 200);
      // The CSP's directory is admitted on the stack (a consent check with the new secret).
      const onStack = await t.call('GET', `${t.b.stacks.local.tenantArm}/subscriptions?api-version=2022-12-01`, {
        token: await t.appToken('csp', t.b.stacks.local.tenantArm),
      });
      assert.equal(onStack.status, 200, JSON.stringify(onStack.body));
    } finally {
      await hub.end();
      await stack.end();
      await t.stop();
    }
  });
});
