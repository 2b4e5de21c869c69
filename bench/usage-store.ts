// The usage-page bench's store: N usage records of May 2026 billed to one subscription, written as
// lean as the hub's schema allows, and no more than fit above the disk's floor. The month's two
// partitions are filled as plain tables (no index, no trigger), a day at a time with
// `generate_series`, then attached: attaching builds each of the parents' keys and indexes once,
// over the loaded rows, instead of maintaining seven indexes row by row. Triggers do not fire, so
// the daily aggregates and counters stay empty: the usage API's page reads neither.
import { statfs } from 'node:fs/promises';
import type pg from 'pg';

export const USAGE_METER = 'fab6eb84-500b-4a09-a8ca-7358f8bbaea5';
export const USAGE_HOURS = 720; // May 2026, hourly
const MONTH = ['2026-05-01T00:00:00Z', '2026-06-01T00:00:00Z'];
const NIL = '00000000-0000-0000-0000-000000000000';
export const GB = 2 ** 30;
/**
 * Disk per record at the load's peak (measured at 1M, 5M and 24M records): the store, 812 bytes
 * (heap and indexes of both tables), and the sort of the largest index while attaching builds it
 * (~180). A page's query needs little temporary space from a few million records up (an index walk
 * that sorts an hour at a time); below, it hashes and sorts the month (720 bytes a record), which
 * the bench's temp_file_limit keeps above the floor.
 */
export const PEAK_BYTES_PER_RECORD = 1000;
/** The two tables' heap per record (measured: 264 and 109 bytes), on disk once loaded. */
const HEAP_BYTES_PER_RECORD = 370;
/** Hours loaded per statement: a day, so that the load can stop between days. */
const CHUNK_HOURS = 24;

/** Resource r's URI: zero-padded, so that text order is number order and a page's key is arithmetic. */
export const usageUriOf = (sub: string, r: number) =>
  `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm${String(r).padStart(9, '0')}`;

export interface SeedLimits {
  /** The folder whose filesystem holds the database (free space is checked there). */
  dataDir: string;
  /** Free space the load must leave, in bytes. */
  minFree: number;
  /** Stop loading days after this instant (the measurement then runs on what was loaded). */
  loadUntil?: Date;
  log: (line: string) => void;
}

export const freeBytes = async (dir: string) => {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
};

/**
 * Writes up to `records` records (one per resource and hour, `resources` resources, in (hour,
 * resource) order) and answers how many hours and records were written: fewer than asked when the
 * deadline passed or the disk would fall under its floor.
 */
export async function seedUsageStore(
  db: pg.Client,
  o: { subscriptionId: string; records: number; resources: number; limits: SeedLimits },
): Promise<{ hours: number; records: number }> {
  const { limits } = o;
  // As many records as leave the disk's floor free at the peak (every record if they fit).
  // A fifth is left over for what others write meanwhile (the load's checks below stop it otherwise).
  const fit = Math.floor((0.8 * ((await freeBytes(limits.dataDir)) - limits.minFree)) / PEAK_BYTES_PER_RECORD);
  if (fit < o.resources) throw new Error(`not enough disk for an hour of ${o.resources} records`);
  const wanted = Math.min(o.records, fit);
  if (wanted < o.records) limits.log(`${o.records} records do not fit above the disk's floor: loading ${wanted}`);
  const hoursWanted = Math.ceil(wanted / o.resources);
  // The month's partitions as the hub names them (usage_create_month), made apart and attached last.
  await db.query(`create table usage_received_2026_05 (like usage_received)`);
  let hours = 0;
  while (hours < hoursWanted) {
    if (limits.loadUntil && Date.now() > limits.loadUntil.getTime()) {
      limits.log(`load stopped at its deadline after ${hours} hours`);
      break;
    }
    // What the peak still needs: all of it for the records to come, all but their heap for those loaded.
    const loaded = hours * o.resources;
    const left = (wanted - loaded) * PEAK_BYTES_PER_RECORD + loaded * (PEAK_BYTES_PER_RECORD - HEAP_BYTES_PER_RECORD);
    if ((await freeBytes(limits.dataDir)) - left < limits.minFree) {
      limits.log(`load stopped after ${hours} hours: the disk would fall under its floor`);
      break;
    }
    const first = hours * o.resources;
    const last = Math.min(wanted, (hours + CHUNK_HOURS) * o.resources) - 1;
    // Narrow values where the API does not show them (resource id, batch); the resource URI,
    // meter, location and tags are what the page prints. Each record holds its first attribution.
    await db.query(
      `insert into usage_received_2026_05 (id, source, resource_id, resource_uri, meter_id, hour, revision, quantity, location, tags, received_at, batch_id,
                                           billed_subscription_id)
       select i, 'bench', i::text, '/subscriptions/' || $1 || '/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm' || lpad((i % $3)::text, 9, '0'),
              $2::uuid, timestamptz '2026-05-01T00:00:00Z' + (i / $3) * interval '1 hour', 0, 1, 'local', '{}', '2026-05-15', '${NIL}', $1::uuid
       from generate_series($4::bigint, $5::bigint) i`,
      [o.subscriptionId, USAGE_METER, o.resources, first, last],
    );
    hours = Math.min(hoursWanted, hours + CHUNK_HOURS);
    limits.log(`loaded ${hours} of ${hoursWanted} hours (${last + 1} records)`);
  }
  const written = Math.min(wanted, hours * o.resources);
  if (written === 0) throw new Error('no record was loaded');
  // Attaching builds the parents' keys and indexes on each partition, once.
  await db.query(`set maintenance_work_mem = '1GB'`);
  await db.query(
    `alter table usage_received attach partition usage_received_2026_05 for values from ('${MONTH[0]}') to ('${MONTH[1]}')`,
  );
  limits.log('usage_received: attached, indexes built');
  // What ingestion's trigger notes of a statement (0561), which the load's own statements bypass:
  // the hours received that day, where a page's walk starts and stops.
  await db.query(
    `insert into usage_received_days (source, received_day, min_hour, max_hour)
     values ('bench', '2026-05-15', timestamptz '2026-05-01T00:00:00Z', timestamptz '2026-05-01T00:00:00Z' + ($1::int - 1) * interval '1 hour')`,
    [Math.ceil(written / o.resources)],
  );
  await db.query(`select setval('usage_received_id_seq', $1)`, [written]);
  await db.query('vacuum (analyze) usage_received');
  // Where the disk went: each table and index of the month, and what is left free.
  const sizes = await db.query<{ name: string; bytes: string }>(
    `select c.relname as name, pg_relation_size(c.oid)::text as bytes from pg_class c
     where c.relname like 'usage\\_%\\_2026\\_05%' order by pg_relation_size(c.oid) desc`,
  );
  const total = sizes.rows.reduce((sum, r) => sum + Number(r.bytes), 0);
  limits.log(
    `${written} records, ${(total / GB).toFixed(2)} GB (${sizes.rows.map((r) => `${r.name} ${Math.round(Number(r.bytes) / written)}`).join(', ')} bytes a record); ${((await freeBytes(limits.dataDir)) / GB).toFixed(1)} GB free`,
  );
  return { hours, records: written };
}
