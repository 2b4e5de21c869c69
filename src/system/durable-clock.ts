import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { clockMoveRefusal, SimulatedClock, SystemClock, type Clock } from '../core/clock.ts';
import { writePrivateFile } from '../core/sealed.ts';

// A data folder started with --clock stays on its simulated clock: DIR/clock.json keeps where it
// stands (written before the work due at each new time runs), so a restart, with or without
// --clock, resumes there and finishes that work first. --clock may move it forward on a restart,
// never back. A folder without the file runs on the real clock until started with --clock.

export const CLOCK_FILE = 'clock.json';

/** A start that cannot go on (the message is the one line to show). */
export class StartRefused extends Error {
  override name = 'StartRefused';
}

export interface DurableClock {
  clock: Clock;
  /** Where a restart with --clock moves the clock (after finishing the work due where it stood). */
  moveTo?: Date;
  /** Where the clock stood before the step a restart finishes (the reported times of what it closes). */
  since?: Date;
  /** Keeps a new simulated time and where the step to it began (for the scheduler); undefined on the real clock. */
  persist?: (now: Date, since?: Date) => Promise<void>;
}

interface ClockFile {
  simulated: true;
  now: string;
  /** Where the step to `now` began: a restart finishes that step as if it had not stopped. */
  since?: string;
}

async function readStored(file: string): Promise<{ now: Date; since?: Date } | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let stored: Partial<ClockFile> | undefined;
  try {
    stored = JSON.parse(text) as Partial<ClockFile>;
  } catch {
    stored = undefined;
  }
  const at = typeof stored?.now === 'string' ? new Date(stored.now) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    throw new StartRefused(`${file} does not hold a time: restore it, or remove it to start again with --clock.`);
  const since = typeof stored?.since === 'string' ? new Date(stored.since) : undefined;
  return { now: at, since: since && since.getTime() < at.getTime() ? since : undefined };
}

/** Writes the file whole or not at all, synced to disk (`writePrivateFile`). */
async function writeStored(file: string, now: Date, since?: Date): Promise<void> {
  const body: ClockFile = { simulated: true, now: now.toISOString(), ...(since ? { since: since.toISOString() } : {}) };
  await writePrivateFile(file, JSON.stringify(body) + '\n');
}

/** The clock of a data folder, given the --clock of this start (if any). */
export async function openDurableClock(dataDir: string, requested: Date | undefined): Promise<DurableClock> {
  const file = path.join(dataDir, CLOCK_FILE);
  const kept = await readStored(file);
  const stored = kept?.now;
  if (!stored && !requested) return { clock: new SystemClock() };
  const persist = (now: Date, since?: Date) => writeStored(file, now, since);
  if (!stored) {
    await persist(requested!);
    return { clock: new SimulatedClock(requested!), persist };
  }
  if (requested && requested.getTime() !== stored.getTime()) {
    const refusal = clockMoveRefusal(stored, requested);
    if (refusal) {
      const why = refusal.code === 'InvalidTime' ? 'it only moves forward' : refusal.message;
      throw new StartRefused(
        `The simulated clock of ${dataDir} stands at ${stored.toISOString()}: --clock ${requested.toISOString()} is refused (${why}).`,
      );
    }
    return { clock: new SimulatedClock(stored), since: kept?.since, moveTo: requested, persist };
  }
  return { clock: new SimulatedClock(stored), since: kept?.since, persist };
}
