// The usage-page bench's client, in a process of its own as an API's client is: it times each run
// of one page over HTTP (the answer read and parsed) and of its raw keyset SQL on the database, in
// turn, and prints both series as one JSON line. In the hub's process, the client's share (TLS,
// reading and parsing 800 kB, its garbage) was added to the hub's on the same thread.
import pg from 'pg';
import { HttpClient } from '../src/core/http-client.ts';

export interface UsageClientJob {
  url: string;
  token: string;
  ca?: string;
  database: string;
  sql: string;
  params: unknown[];
  runs: number;
  /** Unmeasured runs of each side before the measured ones. */
  warmRuns: number;
  pageSize: number;
}

const job = JSON.parse(process.env.BENCH_USAGE_CLIENT_JOB ?? '') as UsageClientJob;
const http = new HttpClient(job.ca, 30 * 60_000);
const db = new pg.Client({ connectionString: job.database });
await db.connect();
try {
  const ours: number[] = [];
  const baseline: number[] = [];
  const baselinePrepared: number[] = [];
  // Unmeasured runs of each first: the route ran first, and paid for reading the page's index and
  // table pages into the cache that the raw SQL then found warm; and this new process's code (the
  // HTTP client's, pg's parser) is compiled by the fifth run or so.
  // The raw SQL also as a prepared statement (planned once, as the hub's page is: db/prepared.ts),
  // reported beside the baseline: what the ratio would be against SQL that skips planning too.
  const prepared = { name: 'raw_page', text: job.sql, values: job.params };
  for (let warm = 0; warm < job.warmRuns; warm++) {
    await http.send('GET', job.url, { token: job.token });
    await db.query(job.sql, job.params);
    await db.query(prepared);
  }
  for (let run = 0; run < job.runs; run++) {
    let start = performance.now();
    const res = await http.send('GET', job.url, { token: job.token });
    ours.push(performance.now() - start);
    if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    start = performance.now();
    const raw = await db.query(job.sql, job.params);
    baseline.push(performance.now() - start);
    start = performance.now();
    await db.query(prepared);
    baselinePrepared.push(performance.now() - start);
    const shown = (res.body as { value: unknown[] }).value.length;
    if (shown !== Math.min(job.pageSize, raw.rows.length))
      throw new Error(`the API showed ${shown} aggregates, the raw SQL ${raw.rows.length}`);
  }
  process.stdout.write(`${JSON.stringify({ ours, baseline, baselinePrepared })}\n`);
} finally {
  await db.end();
  await http.close();
}
