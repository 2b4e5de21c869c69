import { type Clock, DAY_MS, SimulatedClock, startOfDay } from './clock.ts';

// Work that falls due as time passes (closing hours, delivering usage, closing periods). Each
// component registers a piece of work; advancing the simulated clock moves it a step at a time (to
// the next UTC midnight, where billing periods end) and runs every piece once per step, in the
// order registered: each does all that fell due in the step at once (a day of hours in one
// statement, a day of usage in large batches), so a month costs ~32 rounds, not ~745. Work of a
// lane (each stack's: it has its own database and depends on no other stack; the hub's partitions,
// fold and budgets) runs after the work of none and beside the other lanes' work; the settling
// work (closing billing periods) runs when all are done.
export interface DueWork {
  name: string;
  /**
   * Does everything due up to and including `now`. Must be safe to call repeatedly, and to call
   * again after a crash at any point of an earlier call (each write is its own transaction).
   * `since`: where the simulated clock stood before this step moved it to `now` (undefined on the
   * real clock and when a restart finishes a step), for work that stamps what fell due in between
   * with the time it fell due.
   */
  runUntil(now: Date, since?: Date): Promise<void>;
  /**
   * Work that settles what the rest produced (closing billing periods): at each instant it runs
   * after every other step, so that usage due by then is delivered before its period closes.
   */
  settles?: boolean;
  /**
   * A cheap look, without the job's lock (see `oneProcessAtATime`), that answers true only when
   * nothing can be due by `now`: the lock is then not taken at all.
   */
  idleAt?(now: Date): Promise<boolean>;
}

export interface SchedulerOptions {
  /**
   * Keeps each new simulated time (before the work due then runs), so that a restart resumes
   * there and finishes that work first.
   */
  persist?: (now: Date, since?: Date) => Promise<void>;
  /** Told each simulated day passed during a move, for the log. */
  onProgress?: (progress: AdvanceProgress) => void;
}

export interface AdvanceProgress {
  from: Date;
  to: Date;
  now: Date;
}

export class WorkScheduler {
  readonly #work: Array<{ work: DueWork; lane?: string }> = [];
  #running: Promise<void> = Promise.resolve();
  #advancing?: { from: Date; to: Date };

  constructor(
    readonly clock: Clock,
    private readonly options: SchedulerOptions = {},
  ) {}

  /** `lane`: work that may run beside other lanes' work (a stack's), in its lane's order. */
  register(work: DueWork, lane?: string): void {
    this.#work.push({ work, lane });
  }

  /** The move of the simulated clock in progress, if any (its progress is `clock.now()`). */
  get advancing(): { from: Date; to: Date } | undefined {
    return this.#advancing;
  }

  /** Runs every registered step once for the current time. */
  async runDue(): Promise<void> {
    await this.#serialize(() => this.#runAll(this.clock.now()));
  }

  /**
   * Runs the work due at the current simulated time: after a restart, the step a crash may have
   * cut short (`since`: where that step began, as kept by `persist`).
   */
  async finishStep(since?: Date): Promise<void> {
    await this.#serialize(async () => {
      const now = this.clock.now();
      await this.#runAll(now, since);
      // The step is done: a later restart has none to finish.
      if (since) await this.options.persist?.(now);
    });
  }

  /** Moves the simulated clock to `target`, one UTC day at a time, doing the work due in each step. */
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
          const since = clock.now();
          const next = new Date(Math.min(startOfDay(since).getTime() + DAY_MS, target.getTime()));
          await this.options.persist?.(next, since);
          clock.set(next);
          await this.#runAll(next, since);
          this.options.onProgress?.({ from, to: target, now: next });
        }
      } finally {
        this.#advancing = undefined;
      }
    });
  }

  async #runAll(now: Date, since?: Date): Promise<void> {
    const lanes = new Map<string, DueWork[]>();
    for (const { work, lane } of this.#work) {
      if (work.settles) continue;
      if (lane === undefined) await work.runUntil(now, since);
      else lanes.set(lane, [...(lanes.get(lane) ?? []), work]);
    }
    const runLane = async (work: DueWork[]) => {
      for (const w of work) await w.runUntil(now, since);
    };
    // Every lane finishes before the step goes on, even when another failed (the first failure is thrown).
    const failed = (await Promise.allSettled([...lanes.values()].map(runLane))).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const { work } of this.#work) if (work.settles) await work.runUntil(now, since);
  }

  #serialize(task: () => Promise<void>): Promise<void> {
    const next = this.#running.then(task, task);
    this.#running = next.catch(() => undefined);
    return next;
  }
}
