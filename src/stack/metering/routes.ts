import type { FastifyInstance, FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { Type, type Static } from 'typebox';
import type { SystemRights } from '../../arm/service.ts';
import type { Clock } from '../../core/clock.ts';
import { API_VERSIONS } from '../../core/api-versions.ts';
import { principalOf } from '../../http/arm.ts';
import { archiveMonths, parseMonth, type ArchiveDeps } from './archive.ts';

// The operator's archive of delivered months (`stackledger usage archive --stack NAME --before`),
// on the admin endpoint. The action is one of Stackledger.System's, which the Azure Stack Operator
// holds at `/` and a tenant never does.

const ArchiveBody = Type.Object({ before: Type.String({ maxLength: 7 }) });

export function registerArchiveRoutes(
  app: FastifyInstance,
  deps: ArchiveDeps & { clock: Clock },
  operator: SystemRights,
): void {
  app.post<{ Body: Static<typeof ArchiveBody> }>(
    '/providers/Stackledger.Metering/archives',
    {
      config: { apiVersions: API_VERSIONS.system, resourceType: 'Stackledger.Metering/archives' },
      schema: { body: ArchiveBody },
      // Who may archive is decided before the body is read: without the right, 403 whatever was sent.
      preParsing: async (request: FastifyRequest, _reply: FastifyReply, payload: RequestPayload) => {
        await operator.require(principalOf(request), 'Stackledger.System/metering/archives/action');
        return payload;
      },
    },
    async (request) => {
      const before = parseMonth(request.body.before, 'before');
      const p = principalOf(request);
      return { value: await archiveMonths(deps, before, p.objectId, deps.clock.now()) };
    },
  );
}
