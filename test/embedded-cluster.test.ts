// The embedded PostgreSQL's clusters: each new one is a copy of a pristine cluster that the
// installation made once (initdb is the slowest part of a first start), and each copy is a cluster
// of its own. A folder in the way is never deleted, and a cluster about to be deleted stops at once.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { StartupError } from '../src/core/errors.ts';
import { startEmbeddedCluster, type EmbeddedCluster } from '../src/db/embedded.ts';
import { REPO } from './helpers/repo.ts';

const TEMPLATES = path.join(REPO, 'node_modules/.cache/stackledger/clusters');

async function query(cluster: EmbeddedCluster, text: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: cluster.url('postgres') });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

describe('embedded clusters', { timeout: 120_000 }, () => {
  let dir: string;
  const running: EmbeddedCluster[] = [];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'stackledger-clusters-'));
  });
  after(async () => {
    for (const c of running) await c.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('makes each new cluster from the pristine one, and each is a cluster of its own', async () => {
    const first = await startEmbeddedCluster(path.join(dir, 'a', 'pg'));
    running.push(first);
    const templates = readdirSync(TEMPLATES).filter((t) => existsSync(path.join(TEMPLATES, t, 'PG_VERSION')));
    assert.ok(templates.length > 0, 'the pristine cluster is kept in the installation');
    const second = await startEmbeddedCluster(path.join(dir, 'b', 'pg'));
    running.push(second);
    await query(first, 'create table only_in_a (x int)');
    const tables = async (c: EmbeddedCluster) =>
      (await query(c, "select tablename from pg_tables where tablename = 'only_in_a'")).rowCount;
    assert.equal(await tables(first), 1);
    assert.equal(await tables(second), 0);
    // The password that the system connects with is the one the copy was made with; no other is taken.
    const wrong = new pg.Client({ connectionString: second.url('postgres').replace(':stackledger@', ':wrong@') });
    await assert.rejects(wrong.connect(), /password authentication failed/);
    await wrong.end().catch(() => undefined);
  });

  it('leaves a folder with files in its place as it was, and says what is wrong', async () => {
    const inTheWay = path.join(dir, 'c', 'pg');
    await mkdir(inTheWay, { recursive: true });
    await writeFile(path.join(inTheWay, 'notes.txt'), 'mine');
    await assert.rejects(startEmbeddedCluster(inTheWay), StartupError);
    assert.equal(await readFile(path.join(inTheWay, 'notes.txt'), 'utf8'), 'mine');
    assert.deepEqual(readdirSync(inTheWay), ['notes.txt']);
  });

  it('takes an empty folder in its place', async () => {
    const empty = path.join(dir, 'd', 'pg');
    await mkdir(empty, { recursive: true });
    const cluster = await startEmbeddedCluster(empty);
    running.push(cluster);
    assert.equal((await query(cluster, 'select 1 as one')).rows[0].one, 1);
  });

  it('discards a cluster at once: its server is gone and its folder can go', async () => {
    const folder = path.join(dir, 'e', 'pg');
    const cluster = await startEmbeddedCluster(folder);
    await query(cluster, 'create table t as select generate_series(1, 10000) as x');
    await cluster.discard();
    assert.equal(existsSync(path.join(folder, 'postmaster.pid')), false, 'the server has gone');
    await assert.rejects(query(cluster, 'select 1'), /ECONNREFUSED/);
    await rm(folder, { recursive: true });
  });
});
