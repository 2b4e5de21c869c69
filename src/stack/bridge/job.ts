import { randomUUID } from 'node:crypto';
import type { HttpClient } from '../../core/http-client.ts';
import { API_VERSIONS } from '../../core/api-versions.ts';
import type { DueWork } from '../../core/scheduler.ts';
import { appToken } from '../../core/tokens.ts';
import { batchThatFits } from '../../core/usage-record.ts';
import { bridgeStore, type BridgeDb } from './store.ts';

// The usage bridge: delivers closed usage records to the hub in batches, authenticated as the
// deployment's registration (the stack's own application), and marks them delivered only once the
// hub acknowledged their batch. A hub that is down, slow or failing delays delivery: records stay
// in the outbox and go again (the hub stores each once), with backoff and jitter between tries.

export interface BridgeOptions {
  db: BridgeDb;
  http: HttpClient;
  hubArm: () => string;
  hubLogin: () => string;
  homeDirectory: () => string | undefined;
  application: { appId: () => string | undefined; secret: () => string | undefined };
  cloudId: () => string | undefined;
  batchSize?: number;
  /** Tries per run before leaving the rest for the next run. */
  attempts?: number;
  /** Sleeps between tries (real time): base × 2^n, plus jitter. */
  backoffMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class UsageBridge {
  #token?: { value: string; until: number };
  constructor(private readonly o: BridgeOptions) {}

  async #bearer(): Promise<string> {
    if (this.#token && this.#token.until > Date.now()) return this.#token.value;
    const value = await appToken(
      this.o.http,
      this.o.hubLogin(),
      { tenantId: this.o.homeDirectory()!, clientId: this.o.application.appId()!, clientSecret: this.o.application.secret()! },
      this.o.hubArm(),
    );
    this.#token = { value, until: Date.now() + 30 * 60_000 };
    return value;
  }

  /** Sends one batch; answers whether the hub acknowledged it. */
  async #send(records: Awaited<ReturnType<typeof bridgeStore.undelivered>>, now: Date): Promise<{ ok: boolean; error?: string; retry: boolean }> {
    const batchId = randomUUID();
    try {
      const res = await this.o.http.send('POST', `${this.o.hubArm()}/providers/Microsoft.AzureStack/usageReports?api-version=${API_VERSIONS.system[0]}`, {
        token: await this.#bearer(),
        body: { cloudId: this.o.cloudId(), batchId, records },
      });
      if (res.status === 200) {
        await bridgeStore.markDelivered(this.o.db, records, now);
        const status = await bridgeStore.status(this.o.db);
        await bridgeStore.setStatus(this.o.db, { ...status, lastDeliveredAt: now.toISOString(), lastAcknowledgedBatch: batchId, lastAttemptAt: new Date().toISOString(), lastError: undefined, delivered: (status.delivered ?? 0) + records.length });
        return { ok: true, retry: false };
      }
      if (res.status === 401) this.#token = undefined;
      const why = `${res.status} ${res.body?.error?.code ?? ''}: ${res.body?.error?.message ?? ''}`.trim();
      // A refusal (the registration is gone, the caller is not the deployment) will not pass by retrying now.
      return { ok: false, error: why, retry: res.status >= 500 || res.status === 401 || res.status === 429 };
    } catch (e) {
      // A time-out has already waited long: the next run tries again. A refused connection is
      // worth a few quick tries.
      const timedOut = /timeout/i.test(`${(e as Error).name} ${(e as Error).message} ${(e as any).code ?? ''}`);
      return { ok: false, error: `the hub did not answer: ${(e as Error).message}`, retry: !timedOut };
    }
  }

  /** Delivers everything in the outbox, batch by batch, until it is empty or the hub stops answering. */
  async deliver(now: Date): Promise<void> {
    if (!this.o.cloudId() || !this.o.application.secret()) return;
    const size = this.o.batchSize ?? 5000;
    for (;;) {
      // Cut by weight too: a batch over the hub's body limit would be refused every time.
      const records = batchThatFits(await bridgeStore.undelivered(this.o.db, size));
      if (records.length === 0) return;
      let result = await this.#send(records, now);
      for (let attempt = 1; !result.ok && result.retry && attempt < (this.o.attempts ?? 3); attempt++) {
        const base = (this.o.backoffMs ?? 100) * 2 ** (attempt - 1);
        await sleep(base + Math.random() * base);
        result = await this.#send(records, now);
      }
      if (!result.ok) {
        const status = await bridgeStore.status(this.o.db);
        await bridgeStore.setStatus(this.o.db, { ...status, lastAttemptAt: new Date().toISOString(), lastError: result.error });
        return;
      }
    }
  }

  work(): DueWork {
    return { name: 'stack: deliver usage to the hub', runUntil: (now) => this.deliver(now) };
  }
}
