import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { exportStream } from '../src/billing/exports.ts';
import { openDatabase, withDatabase } from '../src/db/database.ts';
import { PARTNER } from './billing-run.ts';
const { db, pool, close } = openDatabase<any>(withDatabase(process.env.URL!, 'bench_export_probe'), 2);
for (let i = 0; i < 3; i++) {
  let bytes = 0;
  const s = performance.now(); const cpu = process.cpuUsage();
  await pipeline(exportStream(db, pool, { stream: 'partner', buyerId: PARTNER, period: '2026-01', kind: 'invoice' }, (process.env.FORMAT ?? 'focus') as any), new Writable({ write: (c, _e, d) => { bytes += c.length; d(); } }));
  const u = process.cpuUsage(cpu); console.log('wall', Math.round(performance.now() - s), 'node cpu', Math.round((u.user + u.system) / 1000), bytes);
}
await close();
