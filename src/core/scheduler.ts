import { type Clock, SimulatedClock, HOUR_MS, startOfHour } from './clock.ts';

// Work that falls due as time passes (closing hours, delivering usage, closing periods). Each
// component registers a step; advancing the simulated clock runs every step hour by hour, in the
// order registered, so that work due earlier is done before work due later.
export interface DueWork {
  name: string;
  /** Does everything due up to and including `now`. Must be safe to call repeatedly. */
  runUntil(now: Date): Promise<void>;
  /**
   * Work that settles what the rest produced (closing billing periods): at each instant it runs
   * after every other step, so that usage due by then is delivered before its period closes.
   */
  settles?: boolean;
}

export class WorkScheduler {
  readonly #work: DueWork[] = [];
  #running: Promise<void> = Promise.resolve();

  constructor(readonly clock: Clock) {}

  register(work: DueWork): void {
    this.#work.push(work);
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
      while (clock.now().getTime() < target.getTime()) {
        const nextHour = startOfHour(clock.now()).getTime() + HOUR_MS;
        clock.set(new Date(Math.min(nextHour, target.getTime())));
        await this.#runAll(clock.now());
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
