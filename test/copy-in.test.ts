// Ingestion's COPY sent with its command in one go (`copyInAtOnce`), and the turns that keep one
// deployment's COPYs one at a time (`Turns`), against a real PostgreSQL server.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Turns } from '../src/core/turns.ts';
import { copyInAtOnce } from '../src/db/copy-in.ts';
import { ensureDatabase, openDatabase, withDatabase } from '../src/db/database.ts';
import { scratchDatabase } from './helpers/scratch-database.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';
import { tcpRelay, type TcpRelay } from './helpers/tcp-relay.ts';

const PREFIX = `t_copy_in_${Date.now()}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The rows as COPY text, in 64 kB messages (a row may go on in the next). */
const rowsOf = (from: number, count: number, text = 'x'.repeat(40)) => {
  const bytes = Buffer.from(Array.from({ length: count }, (_, i) => `${from + i}\t${text}\n`).join(''));
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += 65_536) chunks.push(bytes.subarray(at, at + 65_536));
  return chunks;
};

describe('a COPY sent with its rows at once', () => {
  const scratch = scratchDatabase(PREFIX, 'create table rows (n int primary key, text text not null)');

  it('stores every row and answers how many', async () => {
    const client = await scratch.pool().connect();
    try {
      assert.equal(await copyInAtOnce(client, 'copy rows from stdin', rowsOf(0, 1000)), 1000);
      // Text COPY's escapes arrive as the server reads them.
      assert.equal(await copyInAtOnce(client, 'copy rows from stdin', [Buffer.from('5000\ta\\tb\\\\c\n')]), 1);
      const { rows } = await client.query(
        'select count(*)::int as n, max(text) filter (where n = 5000) as t from rows',
      );
      assert.deepEqual(rows[0], { n: 1001, t: 'a\tb\\c' });
    } finally {
      client.release();
    }
  });

  it('a refusal, while megabytes of the rows are still on their way, stores nothing and leaves the connection fit for use', async () => {
    const client = await scratch.pool().connect();
    try {
      const before = (await client.query('select count(*)::int as n from rows')).rows[0].n;
      // The first row is refused; ~22 MB follow it, most still unsent when the error comes back.
      const bad = [Buffer.from('not a number\tx\n'), ...rowsOf(10_000, 400_000)];
      for (let i = 0; i < 3; i++) {
        await assert.rejects(
          copyInAtOnce(client, 'copy rows from stdin', bad),
          /invalid input syntax for type integer/,
        );
        // The next statements on the same connection run as usual: the rest of the rows is ignored.
        assert.equal((await client.query('select count(*)::int as n from rows')).rows[0].n, before + i);
        assert.equal(await copyInAtOnce(client, 'copy rows from stdin', rowsOf(20_000 + i, 1)), 1);
      }
      // A held key refuses the whole COPY (as a batch sent twice does).
      await assert.rejects(copyInAtOnce(client, 'copy rows from stdin', rowsOf(0, 10)), { code: '23505' });
      assert.equal((await client.query('select count(*)::int as n from rows')).rows[0].n, before + 3);
    } finally {
      client.release();
    }
  });

  it('a connection lost midway rejects with that error', async () => {
    const client = await scratch.pool().connect();
    const victim = (await client.query('select pg_backend_pid() as pid')).rows[0].pid as number;
    const other = await scratch.pool().connect();
    try {
      // Heard at once: the error may come back while the terminate is still being answered.
      const outcome = copyInAtOnce(client, 'copy rows from stdin', rowsOf(100_000, 400_000)).then(
        () => undefined,
        (e: Error) => e,
      );
      await other.query('select pg_terminate_backend($1)', [victim]);
      assert.match(String((await outcome)?.message), /terminating connection|Connection terminated|ECONNRESET/);
      // The pool's other connection is unharmed, and the process is still here to say so.
      assert.equal((await other.query('select 1 as one')).rows[0].one, 1);
    } finally {
      client.release(true);
      other.release();
    }
  });
});

describe('a connection reset while it is lent', () => {
  const url = withDatabase(testServerUrl(), `${PREFIX}_reset`);
  let relay: TcpRelay | undefined;

  before(async () => {
    await ensureDatabase(url);
    const server = new URL(url);
    // The test resets the relay's client-side sockets (RST, not a close).
    relay = await tcpRelay(() => ({ host: server.hostname, port: Number(server.port) }));
  });
  after(async () => {
    await relay?.close();
    await dropDatabases(`${PREFIX}_reset`);
  });

  it('fails the COPY in flight, and the process goes on (pg emits the error on a lent client too)', async () => {
    const relayed = new URL(url);
    relayed.port = String(relay!.port);
    const { pool, close } = openDatabase(relayed.toString(), 2);
    try {
      await pool.query('create table rows (n int primary key, text text not null)');
      const client = await pool.connect();
      const outcome = copyInAtOnce(client, 'copy rows from stdin', rowsOf(0, 400_000)).then(
        () => undefined,
        (e: Error) => e,
      );
      await sleep(20);
      for (const s of relay!.sockets) s.resetAndDestroy();
      assert.match(String((await outcome)?.message), /ECONNRESET|Connection terminated/);
      client.release(true);
      // An error event no one heard would have ended this process before the next line.
      await sleep(100);
      assert.equal((await pool.query('select count(*)::int as n from rows')).rows[0].n, 0);
    } finally {
      await close();
    }
  });
});

describe('turns: one at a time per key', () => {
  it('runs one key’s work in the order asked, one at a time, beside other keys; a failure does not stop the next', async () => {
    const turns = new Turns();
    const log: string[] = [];
    const running = new Map<string, number>();
    let most = 0;
    const work = (key: string, name: string, ms: number, fail = false) =>
      turns.run(key, async () => {
        running.set(key, (running.get(key) ?? 0) + 1);
        most = Math.max(most, running.get(key)!);
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
        running.set(key, running.get(key)! - 1);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([
      work('a', 'a1', 30),
      work('a', 'a2', 5, true),
      work('b', 'b1', 10),
      work('a', 'a3', 1),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['a1', 'a2', 'b1', 'a3'],
    );
    assert.equal(most, 1, 'never two of one key at once');
    const a = log.filter((l) => l.startsWith('a'));
    assert.deepEqual(a, ['a1 start', 'a1 end', 'a2 start', 'a2 end', 'a3 start', 'a3 end']);
    // b did not wait for a: it started before a1 ended.
    assert.ok(log.indexOf('b1 start') < log.indexOf('a1 end'), log.join(', '));
    // Nothing is left behind: a key used again starts at once.
    assert.equal(await work('a', 'a4', 0), 'a4');
  });
});
