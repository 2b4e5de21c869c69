import { readFileSync } from 'node:fs';

/** A process's CPU time (user + system; with `children`, of its reaped children too), ms, from Linux's /proc. */
export function processCpuMs(pid: number | string, children = false): { ppid: number; ms: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
  return { ppid: Number(f[1]), ms: ticks * 10 };
}
