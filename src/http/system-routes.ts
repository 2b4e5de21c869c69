import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { API_VERSIONS } from '../core/api-versions.ts';
import { addDuration, clockMoveRefusal, parseInstant, parseIsoDuration } from '../core/clock.ts';
import { armError } from '../core/errors.ts';
import type { SystemRights } from '../arm/service.ts';
import type { WorkScheduler } from '../core/scheduler.ts';
import { principalOf } from './arm.ts';

// The process's clock, for its administrators: read it (with the move in progress, if any), and
// move a simulated one forward, at most ten years at a time.

const config = { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.System/clock' };

export function registerSystemRoutes(app: FastifyInstance, scheduler: WorkScheduler, rights: SystemRights): void {
  const view = () => {
    const advancing = scheduler.advancing;
    return {
      now: scheduler.clock.now().toISOString(),
      simulated: scheduler.clock.simulated,
      ...(advancing ? { advancing: { from: advancing.from.toISOString(), to: advancing.to.toISOString() } } : {}),
    };
  };

  app.get('/providers/Stackledger.System/clock', { config }, async (request) => {
    await rights.require(principalOf(request), 'Stackledger.System/clock/read');
    return view();
  });

  app.post<{ Body: { duration?: string; to?: string } | null }>(
    '/providers/Stackledger.System/clock/advance',
    {
      config,
      schema: {
        body: Type.Union([
          Type.Null(),
          Type.Object({ duration: Type.Optional(Type.String()), to: Type.Optional(Type.String()) }),
        ]),
      },
    },
    async (request) => {
      await rights.require(principalOf(request), 'Stackledger.System/clock/action');
      if (!scheduler.clock.simulated) {
        throw armError(
          'ClockNotSimulated',
          'This system runs on the real clock; start it with --clock TIME to move time by hand.',
        );
      }
      const from = scheduler.clock.now();
      const { duration, to } = request.body ?? {};
      let target: Date | undefined;
      if (duration !== undefined) {
        const d = parseIsoDuration(duration);
        if (!d)
          throw armError(
            'InvalidDuration',
            `'${duration}' is not an ISO 8601 duration such as PT3H or P7D.`,
            'duration',
          );
        target = addDuration(from, d);
      } else if (to !== undefined) {
        target = parseInstant(to);
        if (!target) throw armError('InvalidTime', `'${to}' is not an ISO 8601 time.`, 'to');
      } else {
        throw armError(
          'InvalidRequestContent',
          "Give either 'duration' (ISO 8601, such as PT3H) or 'to' (an ISO 8601 time).",
        );
      }
      const refusal = clockMoveRefusal(from, target);
      if (refusal) throw armError(refusal.code, refusal.message, duration !== undefined ? 'duration' : 'to');
      await scheduler.advanceTo(target);
      return { from: from.toISOString(), now: scheduler.clock.now().toISOString(), simulated: true };
    },
  );
}
