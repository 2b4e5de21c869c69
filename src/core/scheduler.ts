import { type Clock, SimulatedClock, HOUR_MS, startOfHour } from './clock.ts';

// Work that falls due as time passes (closing hours, delivering usage, closing periods). Each
// component registers a step; advancing the simulated clock runs every step hour by hour, in the
// order registered, so that work due earlier is done before work due later.
export interface DueWork {
  name: string;
  /**
   * Does everything due up to and including `now`. Must be safe to call repeatedly, and to call
   * again after a crash at any point of an earlier call (each write is its own transaction).
   */
  runUntil(now: Date): Promise<void>;
  /**
   * Work that settles what the rest produced (closing billing periods): at each instant it runs
   * after every other step, so that usage due by then is delivered before its period closes.
   */
  settles?: boolean;
}

export interface SchedulerOptions {
  /**
   * Keeps each new simulated time (before the work due then runs), so that a restart resumes
   * there and finishes that work first.
   */
  persist?: (now: Date) => Promise<void>;
  /** Told each simulated day passed during a move, for the log. */
  onProgress?: (progress: AdvanceProgress) => void;
}

export interface AdvanceProgress {
  from: Date;
  to: Date;
  now: Date;
}

export class WorkScheduler {
  readonly #work: DueWork[] = [];
  #running: Promise<void> = Promise.resolve();
  #advancing?: { from: Date; to: Date };

  constructor(
    readonly clock: Clock,
    private readonly options: SchedulerOptions = {},
  ) {}

  register(work: DueWork): void {
    this.#work.push(work);
  }

  /** The move of the simulated clock in progress, if any (its progress is `clock.now()`). */
  get advancing(): { from: Date; to: Date } | undefined {
    return this.#advancing;
  }

  /** Runs every registered step once for the current time. */
  async runDue(): Promise<void> {
    await this.#serialize(() => this.#runAll(this.clock.now()));
  }

  /** Moves the simulated clock to `target`, one hour boundary at a time, doing the work due at each. */
  async advanceTo(target: Date): Promise<void> {
    const clock = this.clock;
    if (!(clock instanceof SimulatedClock)) throw new Error('the clock is not simulated');
    await this.#serialize(async () => {
      if (target.getTime() < clock.now().getTime()) throw new Error('the simulated clock never moves backwards');
      if (clock.now().getTime() === target.getTime()) return this.#runAll(target);
      const from = clock.now();
      this.#advancing = { from, to: target };
      try {
        while (clock.now().getTime() < target.getTime()) {
          const next = new Date(Math.min(startOfHour(clock.now()).getTime() + HOUR_MS, target.getTime()));
          await this.options.persist?.(next);
          clock.set(next);
          await this.#runAll(next);
          if (next.getTime() % (24 * HOUR_MS) === 0 || next.getTime() === target.getTime())
            this.options.onProgress?.({ from, to: target, now: next });
        }
      } finally {
        this.#advancing = undefined;
      }
    });
  }

  async #runAll(now: Date): Promise<void> {
    for (const w of this.#work) if (!w.settles) await w.runUntil(now);
    for (const w of this.#work) if (w.settles) await w.runUntil(now);
  }

  #serialize(task: () => Promise<void>): Promise<void> {
    const next = this.#running.then(task, task);
    this.#running = next.catch(() => undefined);
    return next;
  }
}
