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
export const DAY_MS = 24 * HOUR_MS;

/** How far one move of a simulated clock may go: beyond it, closing every hour on the way would never end. */
export const CLOCK_HORIZON = {
  years: 10,
  months: 0,
  weeks: 0,
  days: 0,
  hours: 0,
  minutes: 0,
  seconds: 0,
} satisfies IsoDuration;

/** Why a simulated clock at `from` may not move to `to` (ARM code and message), or undefined when it may. */
export function clockMoveRefusal(
  from: Date,
  to: Date,
): { code: 'InvalidTime' | 'TimeBeyondHorizon'; message: string } | undefined {
  if (to.getTime() < from.getTime()) {
    return {
      code: 'InvalidTime',
      message: `${to.toISOString()} is before the current simulated time ${from.toISOString()}: the simulated clock only moves forward.`,
    };
  }
  const horizon = addDuration(from, CLOCK_HORIZON);
  if (!(to.getTime() <= horizon.getTime())) {
    const when = Number.isNaN(to.getTime()) ? 'That time' : to.toISOString();
    return {
      code: 'TimeBeyondHorizon',
      message: `${when} is more than ${CLOCK_HORIZON.years} years after the current simulated time ${from.toISOString()}; move the clock at most to ${horizon.toISOString()} at a time.`,
    };
  }
  return undefined;
}

export function startOfHour(t: Date): Date {
  return new Date(Math.floor(t.getTime() / HOUR_MS) * HOUR_MS);
}

/** The UTC midnight that begins the day of `t`. */
export function startOfDay(t: Date): Date {
  return new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
}

// Dates are read strictly: JavaScript rolls 2026-02-30 over to 2 March, PostgreSQL refuses it, and
// neither is what the caller meant. A day that does not exist is not a date.
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Whether year, month and day name a day of the proleptic Gregorian calendar (years 1 to 9999). */
function isRealDay(year: number, month: number, day: number): boolean {
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeapYear(year) ? 1 : 0);
}

const isLeapYear = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * Parses an ISO 8601 instant (a date, or a date and time with an optional offset; UTC when none);
 * undefined for anything that is not one, a day or time that does not exist included.
 */
export function parseInstant(text: string): Date | undefined {
  const m = INSTANT.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  if (!isRealDay(year, month, day) || hour > 23 || minute > 59 || second > 59) return undefined;
  const offset = m[8];
  if (offset && offset !== 'Z') {
    const [oh, om] = [Number(offset.slice(1, 3)), Number(offset.slice(-2))];
    if (oh > 14 || om > 59) return undefined;
  }
  // Without an offset the text is UTC, as PostgreSQL's timestamptz with a UTC session reads it.
  const t = new Date(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : offset ? text : `${text}Z`);
  return Number.isNaN(t.getTime()) ? undefined : t;
}

/** Parses a day `YYYY-MM-DD`; undefined when it is not one that exists. */
export function parseDay(text: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m && isRealDay(Number(m[1]), Number(m[2]), Number(m[3])) ? text : undefined;
}
