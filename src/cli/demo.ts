import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { EmbeddedCluster } from '../db/embedded.ts';
import type { RunningSystem } from '../system/up.ts';
import { asCliError, CliError, connect, type Connection } from './client.ts';
import { Narrator, runDemoFlow } from './demo-flow.ts';
import { STACKS, START } from './demo-plan.ts';
import { jsonOption, progressBar } from './output.ts';

// `stackledger demo`: a hub and two stacks in this process on a simulated clock, and the seed's
// whole flow (demo-flow.ts) through the same operations as the other commands, over HTTPS like any
// client. Every number it reports comes back from the system's APIs; the plan (demo-plan.ts) only
// says what to do.

async function isEmptyFolder(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      "Start a hub and two stacks (east, west) on a simulated clock, run the seed's whole flow for three customers, a month of usage and the invoices, print who pays for what, and stop.",
    )
    .addOption(
      new Option(
        '--data <dir>',
        'a fresh (empty or new) data folder to keep afterwards (default: a temporary one, removed at the end)',
      ),
    )
    .addOption(new Option('--database <url>', 'a PostgreSQL server instead of the embedded one').env('DATABASE_URL'))
    .addOption(jsonOption())
    .action(async (o: { data?: string; database?: string; json?: boolean }) => {
      if (o.data && !(await isEmptyFolder(o.data)))
        throw new CliError(`The demo needs a fresh data folder, and ${o.data} is not empty.`, 2);
      const dataDir = o.data ?? (await mkdtemp(path.join(tmpdir(), 'stackledger-demo-')));
      // With --json, standard output holds the one JSON document; the story goes to standard error.
      const n = new Narrator(o.json ? process.stderr : process.stdout);
      let system: RunningSystem | undefined;
      let c: Connection | undefined;
      let bar: ReturnType<typeof progressBar> | undefined;
      let starting: Promise<RunningSystem> | undefined;
      let embedded: Promise<EmbeddedCluster> | undefined;
      const cleanUp = async () => {
        bar?.stop();
        await c?.close();
        system ??= await starting?.catch(() => undefined);
        await system?.stop();
        // The system stops the cluster it was given; one that never got to it is stopped here.
        if (!starting) await (await embedded?.catch(() => undefined))?.stop();
        if (!o.data) await rm(dataDir, { recursive: true, force: true });
      };
      // Interrupted, it still stops what it started (the embedded PostgreSQL above all), then exits.
      let stopping = false;
      const interrupted = (signal: string) => {
        stopping = true;
        void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      try {
        n.step(
          `Starting a hub and the stacks ${STACKS.map((s) => s.name).join(' and ')} in ${dataDir}, on a simulated clock at ${START.toISOString()}`,
        );
        // PostgreSQL makes and starts its cluster while the rest of the system's code loads.
        embedded = o.database
          ? undefined
          : import('../db/embedded.ts').then(async (m) => {
              // A temporary folder is deleted at the end: its cluster need not write its data out.
              const cluster = await m.startEmbeddedCluster(m.embeddedClusterFolder(dataDir), undefined, {
                throwaway: !o.data,
              });
              return o.data ? cluster : { ...cluster, stop: cluster.discard };
            });
        embedded?.catch(() => {});
        const { startSystem } = await import('../system/up.ts');
        starting = startSystem({ dataDir, port: 0, databaseUrl: o.database, clock: START, stacks: STACKS, embedded });
        system = await starting;
        n.say(
          `hub ${system.bootstrap.hub.arm}; ${STACKS.map((s) => `${s.name} ${system!.bootstrap.stacks[s.name].tenantArm}`).join('; ')}`,
        );
        n.say(
          `each stack registered itself with the CSP's registration subscription ${system.bootstrap.csp.registrationSubscriptionId}`,
        );
        c = await connect(dataDir);
        const result = await runDemoFlow(c, n, (done, total, now) => {
          bar ??= progressBar(total, 'days');
          bar.update(done, now.toISOString());
          if (done === total) bar.stop();
        });
        if (o.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      } catch (e) {
        // The flow's requests fail once an interruption stops the servers: the exit is the handler's.
        if (stopping) await new Promise(() => {});
        throw asCliError(e, dataDir);
      } finally {
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
        await cleanUp();
      }
    });
}
