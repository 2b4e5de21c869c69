import type { Command } from 'commander';
import { runClient, SYSTEM_API, type Connection } from './client.ts';
import { dataOption, jsonOption, print, table } from './output.ts';

// `stackledger status`: is everything up, what time is it, and how far has each stack's usage got.

export interface SystemStatus {
  hub: { arm: string; health: string; now: string; simulated: boolean };
  stacks: Array<{
    name: string;
    adminArm: string;
    health: string;
    lastClosedHour: string | null;
    lastDeliveredHour: string | null;
    outbox: number | null;
    lastError: string | null;
  }>;
}

/** The hub's and each stack's health; a stack that does not answer is reported, not fatal. */
export async function systemStatus(c: Connection): Promise<SystemStatus> {
  const { hub } = c.bootstrap;
  const health = async (base: string) => {
    const res = await c.http
      .send('GET', `${base}/healthz`)
      .catch((e: Error) => ({ status: 0, body: { status: e.message } }));
    return res.status === 200 ? String(res.body.status) : `down (${res.status || res.body.status})`;
  };
  const clock = await c.http.call('GET', `${hub.arm}/providers/Stackledger.System/clock?${SYSTEM_API}`, {
    token: await c.token(hub.arm),
  });
  const stacks = await Promise.all(
    Object.entries(c.bootstrap.stacks).map(async ([name, s]) => {
      const h = await health(s.adminArm);
      const bridge =
        h === 'ok'
          ? await c.http.call('GET', `${s.adminArm}/providers/Stackledger.System/bridge?${SYSTEM_API}`, {
              token: await c.token(s.adminArm, 'operator'),
            })
          : undefined;
      return {
        name,
        adminArm: s.adminArm,
        health: h,
        lastClosedHour: bridge?.lastClosedHour ?? null,
        lastDeliveredHour: bridge?.lastDeliveredHour ?? null,
        outbox: bridge?.outbox ?? null,
        lastError: bridge?.lastError ?? null,
      };
    }),
  );
  return { hub: { arm: hub.arm, health: await health(hub.arm), now: clock.now, simulated: clock.simulated }, stacks };
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("The running system's health, its clock, and each stack's metering and delivery to the hub.")
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { data: string; json?: boolean }) => {
      const status = await runClient(o.data, systemStatus);
      print(o.json, status, () =>
        [
          `hub ${status.hub.arm}: ${status.hub.health}; clock ${status.hub.now}${status.hub.simulated ? ' (simulated)' : ''}`,
          table(
            ['stack', 'health', 'last hour closed', 'last hour delivered', 'outbox', 'last error'],
            status.stacks.map((s) => [s.name, s.health, s.lastClosedHour, s.lastDeliveredHour, s.outbox, s.lastError]),
          ),
        ].join('\n'),
      );
      if (status.hub.health !== 'ok' || status.stacks.some((s) => s.health !== 'ok')) process.exitCode = 1;
    });
}
