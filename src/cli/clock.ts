import type { Command } from 'commander';
import { addDuration, clockMoveRefusal, DAY_MS, parseIsoDuration } from '../core/clock.ts';
import { CliError, runClient, SYSTEM_API, type Connection } from './client.ts';
import { dataOption, jsonOption, print, progressBar } from './output.ts';
import { systemNow } from './usage.ts';

// The running system's clock: read it, or move the simulated one (doing the work due on the way).

/**
 * Moves the simulated clock by an ISO 8601 duration, a day at a time so that a long move shows its
 * progress; the work due is done in time order either way.
 */
export async function advanceClock(
  c: Connection,
  duration: string,
  onDay?: (done: number, total: number, now: Date) => void,
): Promise<{ from: string; now: string }> {
  const d = parseIsoDuration(duration);
  if (!d) throw new CliError(`'${duration}' is not an ISO 8601 duration such as PT3H or P7D.`, 2);
  const url = `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock/advance?${SYSTEM_API}`;
  const token = await c.token(c.bootstrap.hub.arm);
  const from = await systemNow(c);
  const target = addDuration(from, d);
  // Refused before the first day moves, rather than after years of them.
  const refusal = clockMoveRefusal(from, target);
  if (refusal) throw new CliError(`${refusal.code}: ${refusal.message}`);
  const steps = Math.max(1, Math.ceil((target.getTime() - from.getTime()) / DAY_MS));
  let now = from;
  for (let i = 1; i <= steps; i++) {
    const next = i === steps ? target : new Date(from.getTime() + i * DAY_MS);
    const result = await c.http.call('POST', url, { token, body: { to: next.toISOString() } });
    now = new Date(result.now);
    onDay?.(i, steps, now);
  }
  return { from: from.toISOString(), now: now.toISOString() };
}

export function registerClockCommands(program: Command): void {
  const clock = program.command('clock').description("Read or move the running system's clock.");

  clock
    .command('show')
    .description('Print the current (simulated or real) time of the running system.')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { data: string; json?: boolean }) => {
      const result = await runClient(o.data, async (c) =>
        c.http.call('GET', `${c.bootstrap.hub.arm}/providers/Stackledger.System/clock?${SYSTEM_API}`, {
          token: await c.token(c.bootstrap.hub.arm),
        }),
      );
      print(o.json, result, () => `${result.now}${result.simulated ? ' (simulated)' : ''}`);
    });

  clock
    .command('advance')
    .description(
      'Move the simulated clock forward by an ISO 8601 duration (PT3H, P7D, P31DT12H); returns when the work due is done.',
    )
    .argument('<duration>', 'ISO 8601 duration')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (duration: string, o: { data: string; json?: boolean }) => {
      if (!parseIsoDuration(duration))
        throw new CliError(`'${duration}' is not an ISO 8601 duration such as PT3H or P7D.`, 2);
      const result = await runClient(o.data, async (c) => {
        let bar: ReturnType<typeof progressBar> | undefined;
        try {
          return await advanceClock(c, duration, (done, total, now) => {
            bar ??= total > 1 ? progressBar(total, 'days') : undefined;
            bar?.update(done, now.toISOString());
          });
        } finally {
          bar?.stop();
        }
      });
      print(o.json, result, () => `${result.from} -> ${result.now}`);
    });
}
