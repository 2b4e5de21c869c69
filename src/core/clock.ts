// Everything in the domain asks a Clock for "now". The simulated clock moves only when told to,
// so tests and the demo can run days of usage in seconds; tokens and logs keep real time.

export interface Clock {
  now(): Date;
  readonly simulated: boolean;
}

export class SystemClock implements Clock {
  readonly simulated = false;
  now(): Date {
    return new Date();
  }
}

export class SimulatedClock implements Clock {
  readonly simulated = true;
  #now: number;
  constructor(start: Date) {
    this.#now = start.getTime();
  }
  now(): Date {
    return new Date(this.#now);
  }
  set(to: Date): void {
    if (to.getTime() < this.#now) throw new Error('the simulated clock never moves backwards');
    this.#now = to.getTime();
  }
}

export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** Parses an ISO 8601 duration such as `PT3H`, `P7D` or `P31DT12H`; undefined when it is not one. */
export function parseIsoDuration(text: string): IsoDuration | undefined {
  const m = DURATION.exec(text.trim().toUpperCase());
  if (!m || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase().endsWith('T')) return undefined;
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  return { years: n(1), months: n(2), weeks: n(3), days: n(4), hours: n(5), minutes: n(6), seconds: n(7) };
}

/** Adds a duration to a time: calendar parts (years, months) in UTC, the rest as exact time. */
export function addDuration(from: Date, d: IsoDuration): Date {
  const t = new Date(from.getTime());
  if (d.years || d.months) t.setUTCMonth(t.getUTCMonth() + d.years * 12 + d.months);
  const ms = ((((d.weeks * 7 + d.days) * 24 + d.hours) * 60 + d.minutes) * 60 + d.seconds) * 1000;
  return new Date(t.getTime() + ms);
}

export const HOUR_MS = 3_600_000;

/** How far one move of a simulated clock may go: beyond it, closing every hour on the way would never end. */
export const CLOCK_HORIZON = { years: 10, months: 0, weeks: 0, days: 0, hours: 0, minutes: 0, seconds: 0 } satisfies IsoDuration;

/** Why a simulated clock at `from` may not move to `to` (ARM code and message), or undefined when it may. */
export function clockMoveRefusal(from: Date, to: Date): { code: 'InvalidTime' | 'TimeBeyondHorizon'; message: string } | undefined {
  if (to.getTime() < from.getTime()) {
    return { code: 'InvalidTime', message: `${to.toISOString()} is before the current simulated time ${from.toISOString()}: the simulated clock only moves forward.` };
  }
  const horizon = addDuration(from, CLOCK_HORIZON);
  if (!(to.getTime() <= horizon.getTime())) {
    const when = Number.isNaN(to.getTime()) ? 'That time' : to.toISOString();
    return { code: 'TimeBeyondHorizon', message: `${when} is more than ${CLOCK_HORIZON.years} years after the current simulated time ${from.toISOString()}; move the clock at most to ${horizon.toISOString()} at a time.` };
  }
  return undefined;
}

export function startOfHour(t: Date): Date {
  return new Date(Math.floor(t.getTime() / HOUR_MS) * HOUR_MS);
}

/** Parses an ISO 8601 instant; undefined for anything that is not one. */
export function parseInstant(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const t = new Date(text);
  return Number.isNaN(t.getTime()) ? undefined : t;
}
