import { randomUUID } from 'node:crypto';
import type { DueWork } from '../../core/scheduler.ts';
import { batchThatFits } from '../../core/usage-record.ts';
import { HOUR_MS, startOfHour } from '../../core/clock.ts';
import { outboxStore } from '../metering/outbox-store.ts';
import { closedUntil } from '../metering/service.ts';
import { BridgeHubClient, type HubOptions } from './hub.ts';
import { reconcile } from './reconcile.ts';
import { verdictOf, type Refusal, type Verdict } from './refusal.ts';
import { bridgeStore, type BridgeDb, type OutboxRecord } from './store.ts';

// The usage bridge: delivers closed usage records to the hub in batches, authenticated as the
// deployment's registration (the stack's own application), and marks them delivered only once the
// hub acknowledged their batch. A hub that is down, slow or failing delays delivery: records stay
// in the outbox and go again (the hub stores each once), with backoff and jitter between tries.
// A batch the hub refuses because of some of its records is split until exactly those are found;
// they are set aside in the quarantine and everything else is delivered. After delivering, the
// bridge compares its recent hours with what the hub received.

export interface BridgeOptions extends HubOptions {
  db: BridgeDb;
  batchSize?: number;
  /** Tries per run before leaving the rest for the next run. */
  attempts?: number;
  /** Sleeps between tries (real time): base × 2^n, plus jitter. */
  backoffMs?: number;
  /** How many closed hours the bridge reconciles on its own, and how often (domain time). */
  reconcileHours?: number;
  reconcileEveryMinutes?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class UsageBridge {
  readonly hub: BridgeHubClient;
  constructor(private readonly o: BridgeOptions) {
    this.hub = new BridgeHubClient(o);
  }

  get db(): BridgeDb {
    return this.o.db;
  }

  /** Sends one batch once; answers the verdict on the hub's answer. */
  async #sendOnce(batchId: string, records: OutboxRecord[]): Promise<Verdict> {
    try {
      return verdictOf(await this.hub.postBatch(batchId, records), records.length);
    } catch (e) {
      // A time-out has already waited long: the next run tries again. A refused connection is
      // worth a few quick tries.
      const timedOut = /timeout/i.test(
        `${(e as Error).name} ${(e as Error).message} ${(e as { code?: string }).code ?? ''}`,
      );
      const error = `the hub did not answer: ${(e as Error).message}`;
      return timedOut ? { kind: 'later', error } : { kind: 'retry', error };
    }
  }

  /** Sends one batch (under one batch id), trying again with backoff while the hub is failing. */
  async #send(batchId: string, records: OutboxRecord[]): Promise<Verdict> {
    let verdict = await this.#sendOnce(batchId, records);
    for (let attempt = 1; verdict.kind === 'retry' && attempt < (this.o.attempts ?? 3); attempt++) {
      const base = (this.o.backoffMs ?? 100) * 2 ** (attempt - 1);
      await sleep(base + Math.random() * base);
      verdict = await this.#sendOnce(batchId, records);
    }
    return verdict;
  }

  async #quarantine(entries: { record: OutboxRecord; refusal: Refusal }[], now: Date): Promise<void> {
    await bridgeStore.quarantine(
      this.o.db,
      entries.map((e) => ({ record: e.record, ...e.refusal })),
      now,
    );
  }

  /**
   * Delivers a batch, or as much of it as the hub takes: records the hub names are quarantined and
   * the rest sent again; a refusal that names none is split in halves, down to the single record
   * it is about (about 2·log2(n) requests per refused record). Answers false when the run must stop.
   */
  async #deliverBatch(records: OutboxRecord[], now: Date): Promise<boolean> {
    const batchId = randomUUID();
    const verdict = await this.#send(batchId, records);
    switch (verdict.kind) {
      case 'delivered': {
        await outboxStore.markDelivered(this.o.db, records, now);
        await bridgeStore.updateStatus(this.o.db, {
          set: {
            lastDeliveredAt: now.toISOString(),
            lastAcknowledgedBatch: batchId,
            lastAttemptAt: new Date().toISOString(),
          },
          unset: ['lastError'],
          add: { delivered: records.length },
        });
        return true;
      }
      case 'records': {
        await this.#quarantine(
          [...verdict.refused].map(([i, refusal]) => ({ record: records[i], refusal })),
          now,
        );
        const rest = records.filter((_, i) => !verdict.refused.has(i));
        return rest.length === 0 || this.#deliverBatch(rest, now);
      }
      case 'split': {
        if (records.length === 1) {
          await this.#quarantine([{ record: records[0], refusal: verdict.refusal }], now);
          return true;
        }
        const half = Math.ceil(records.length / 2);
        return (await this.#deliverBatch(records.slice(0, half), now)) && this.#deliverBatch(records.slice(half), now);
      }
      default: {
        // A refusal of the whole batch (the registration is gone, the caller is not the
        // deployment) or a hub that keeps failing: the records stay in the outbox.
        await bridgeStore.updateStatus(this.o.db, {
          set: { lastAttemptAt: new Date().toISOString(), lastError: verdict.error },
        });
        return false;
      }
    }
  }

  /** Delivers everything in the outbox, batch by batch, until it is empty or the hub stops answering. Answers whether it emptied it. */
  async deliver(now: Date): Promise<boolean> {
    if (!this.hub.ready) return false;
    const size = this.o.batchSize ?? 5000;
    for (;;) {
      const oldest = await outboxStore.undelivered(this.o.db, size, bridgeStore.withheld);
      // Cut by weight too: a batch over the hub's body limit would be refused every time.
      const records = batchThatFits(oldest);
      if (records.length === 0) return true;
      if (!(await this.#deliverBatch(records, now))) return false;
      // A short read took the whole outbox: nothing is left to ask for.
      if (oldest.length < size && records.length === oldest.length) return true;
    }
  }

  /** Compares the last closed hours with the hub, at most once per period of domain time; the result goes in the status. */
  async reconcileRecent(now: Date): Promise<void> {
    // Both read at once: the watermark is wasted only when the last check is too recent.
    const [status, closed] = await Promise.all([bridgeStore.status(this.o.db), closedUntil(this.o.db)]);
    const last = status.reconciliation ? Date.parse(status.reconciliation.checkedAt) : -Infinity;
    if (now.getTime() - last < (this.o.reconcileEveryMinutes ?? 360) * 60_000) return;
    if (!closed) return;
    const to = startOfHour(closed);
    const from = new Date(to.getTime() - (this.o.reconcileHours ?? 24) * HOUR_MS);
    const reconciliation = await reconcile(this.o.db, this.hub, from, to, now);
    await bridgeStore.updateStatus(this.o.db, { set: { reconciliation } });
  }

  work(): DueWork {
    return {
      name: 'stack: deliver usage to the hub',
      runUntil: async (now) => {
        // A hub that refused or failed delivery is not asked for its summary as well.
        if (await this.deliver(now)) await this.reconcileRecent(now);
      },
    };
  }
}
