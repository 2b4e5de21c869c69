import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from 'typebox';
import { ACTIVITY_ORDER, auditStore } from '../audit/store.ts';
import { overListed } from '../core/paging.ts';
import type { ActivityLogTable } from '../audit/tables.ts';
import { parseInstant } from '../core/clock.ts';
import { isGuid } from '../core/ids.ts';
import { principalOf, queryValue } from '../http/arm.ts';
import { pagedList, pageOf, type Page } from '../http/paging.ts';
import {
  createMember,
  getUser,
  graphErrors,
  invitationView,
  invite,
  listUsers,
  ownDirectoryOf,
  requireDirectoryAdmin,
  updateUser,
  type GraphContext,
} from './graph.ts';
import {
  addApplicationPassword,
  addServicePrincipal,
  applicationView,
  getDirectoryObject,
  getServicePrincipal,
  listApplications,
  listServicePrincipals,
  servicePrincipalView,
  registerApplication,
  removeApplicationPassword,
  updateApplication,
} from './graph-applications.ts';
import { KeyCredentialBody, keyCredentialViews } from './key-credentials.ts';
import { APPLICATION_ORDER, identityStore, SERVICE_PRINCIPAL_ORDER, USER_ORDER } from './store.ts';

// The directory API's routes (graph, v1.0): invitations, users, applications, service principals,
// the organization, audit logs.

const InvitationBody = Type.Object({
  invitedUserEmailAddress: Type.String({ minLength: 1 }),
  inviteRedirectUrl: Type.String({ minLength: 1 }),
  invitedUserDisplayName: Type.Optional(Type.String()),
  sendInvitationMessage: Type.Optional(Type.Boolean()),
  invitedUserType: Type.Optional(Type.String()),
  invitedUserMessageInfo: Type.Optional(Type.Object({})),
});

const UserBody = Type.Object({
  displayName: Type.String({ minLength: 1 }),
  userPrincipalName: Type.String({ minLength: 1 }),
  mailNickname: Type.Optional(Type.String()),
  accountEnabled: Type.Optional(Type.Boolean()),
  passwordProfile: Type.Object({
    password: Type.String({ minLength: 1 }),
    forceChangePasswordNextSignIn: Type.Optional(Type.Boolean()),
  }),
});

/** `{"value", "@odata.nextLink"}`, graph's paging. */
function odataPage<Row, View>(
  request: FastifyRequest,
  baseUrl: string,
  page: Page<Row>,
  rows: readonly Row[],
  view: (row: Row, index: number) => View,
) {
  const listed = pagedList(request, new URL(baseUrl).origin, page, rows, view);
  return { value: listed.value, ...(listed.nextLink ? { '@odata.nextLink': listed.nextLink } : {}) };
}

/** Reads `activityDateTime ge X and activityDateTime le Y` (either bound may be missing). */
export function parseTimeFilter(filter: string | undefined, field: string): { from: Date; to: Date } {
  let from = new Date(0);
  let to = new Date(8.64e15);
  if (!filter) return { from, to };
  for (const part of filter.split(/\s+and\s+/i)) {
    const m = new RegExp(`^${field}\\s+(ge|gt|le|lt)\\s+'?([^']+?)'?$`, 'i').exec(part.trim());
    const t = m ? parseInstant(m[2]) : undefined;
    if (!m || !t)
      throw graphErrors.badRequest(
        `Invalid filter clause '${part.trim()}'; use '${field} ge <time> and ${field} le <time>'.`,
        '$filter',
      );
    const op = m[1].toLowerCase();
    if (op === 'ge') from = t;
    else if (op === 'gt') from = new Date(t.getTime() + 1);
    else if (op === 'le') to = new Date(t.getTime() + 1);
    else to = t;
  }
  return { from, to };
}

function directoryAuditView(r: ActivityLogTable) {
  return {
    id: r.id,
    category: r.resource_type === 'User' || r.resource_type === 'Invitation' ? 'UserManagement' : 'Other',
    correlationId: r.id,
    result: 'success',
    activityDisplayName: r.operation,
    activityDateTime: r.occurred_at.toISOString(),
    loggedByService: 'Core Directory',
    operationType: r.old_value === null ? 'Add' : r.new_value === null ? 'Delete' : 'Update',
    initiatedBy: { user: { id: r.actor_object_id, userPrincipalName: r.actor_name, tenantId: r.actor_tenant_id } },
    targetResources: [
      {
        id: r.resource_id,
        type: r.resource_type,
        modifiedProperties: [
          {
            displayName: r.resource_type,
            oldValue: JSON.stringify(r.old_value),
            newValue: JSON.stringify(r.new_value),
          },
        ],
      },
    ],
  };
}

export function registerGraphRoutes(
  app: FastifyInstance,
  ctx: GraphContext,
  baseUrl: () => string,
  redeemUrl: (invitationId: string, tenantId: string) => string,
): void {
  app.post<{ Body: Static<typeof InvitationBody> }>(
    '/v1.0/invitations',
    { schema: { body: InvitationBody } },
    async (request, reply) => {
      const invitation = await invite(ctx, principalOf(request), request.body);
      return reply.status(201).send(invitationView(invitation, redeemUrl(invitation.id, invitation.tenant_id)));
    },
  );

  app.post<{ Body: Static<typeof UserBody> }>('/v1.0/users', { schema: { body: UserBody } }, async (request, reply) => {
    const user = await createMember(ctx, principalOf(request), request.body);
    return reply.status(201).send({ ...(await getUser(ctx, principalOf(request), user.object_id)) });
  });

  app.get('/v1.0/users', async (request) => {
    const page = pageOf(request, overListed(USER_ORDER));
    return odataPage(request, baseUrl(), page, await listUsers(ctx, principalOf(request), page), (l) => l.view);
  });

  app.get<{ Params: { id: string } }>('/v1.0/users/:id', async (request) =>
    getUser(ctx, principalOf(request), request.params.id),
  );

  const UserPatch = Type.Object({
    displayName: Type.Optional(Type.String({ minLength: 1 })),
    accountEnabled: Type.Optional(Type.Boolean()),
  });
  app.patch<{ Params: { id: string }; Body: Static<typeof UserPatch> }>(
    '/v1.0/users/:id',
    { schema: { body: UserPatch } },
    async (request, reply) => {
      await updateUser(ctx, principalOf(request), request.params.id, request.body);
      return reply.status(204).send();
    },
  );

  const KeyCredentials = Type.Optional(Type.Array(KeyCredentialBody));
  /** An application as graph shows it: its password credentials (without their text) and key credentials (without their key). */
  const withKeys = async (found: Parameters<typeof applicationView>[0]) => ({
    ...applicationView(found, await identityStore.clientSecretsOf(ctx.db, found.app_id)),
    keyCredentials: await keyCredentialViews(ctx.db, found.app_id),
  });
  const ApplicationBody = Type.Object({
    displayName: Type.String({ minLength: 1 }),
    identifierUris: Type.Optional(Type.Array(Type.String())),
    keyCredentials: KeyCredentials,
  });
  app.post<{ Body: Static<typeof ApplicationBody> }>(
    '/v1.0/applications',
    { schema: { body: ApplicationBody } },
    async (request, reply) => {
      return reply.status(201).send(await withKeys(await registerApplication(ctx, principalOf(request), request.body)));
    },
  );

  const ApplicationPatch = Type.Object({
    displayName: Type.Optional(Type.String({ minLength: 1 })),
    identifierUris: Type.Optional(Type.Array(Type.String())),
    keyCredentials: KeyCredentials,
  });
  app.patch<{ Params: { id: string }; Body: Static<typeof ApplicationPatch> }>(
    '/v1.0/applications/:id',
    { schema: { body: ApplicationPatch } },
    async (request, reply) => {
      await updateApplication(ctx, principalOf(request), request.params.id, request.body);
      return reply.status(204).send();
    },
  );

  const PasswordBody = Type.Union([
    Type.Null(),
    Type.Object({
      passwordCredential: Type.Optional(
        Type.Object({ displayName: Type.Optional(Type.String()), endDateTime: Type.Optional(Type.String()) }),
      ),
    }),
  ]);
  app.post<{ Params: { id: string }; Body: Static<typeof PasswordBody> }>(
    '/v1.0/applications/:id/addPassword',
    { schema: { body: PasswordBody } },
    async (request) =>
      addApplicationPassword(ctx, principalOf(request), request.params.id, request.body?.passwordCredential ?? {}),
  );

  const RemovePasswordBody = Type.Object({ keyId: Type.String({ minLength: 1 }) });
  app.post<{ Params: { id: string }; Body: Static<typeof RemovePasswordBody> }>(
    '/v1.0/applications/:id/removePassword',
    { schema: { body: RemovePasswordBody } },
    async (request, reply) => {
      await removeApplicationPassword(ctx, principalOf(request), request.params.id, request.body.keyId);
      return reply.status(204).send();
    },
  );

  app.get('/v1.0/applications', async (request) => {
    const page = pageOf(request, APPLICATION_ORDER);
    const rows = await listApplications(ctx, principalOf(request), queryValue(request, '$filter'), page);
    const views = await Promise.all(rows.slice(0, page.limit).map(withKeys));
    return odataPage(request, baseUrl(), page, rows, (_row, i) => views[i]);
  });

  app.get<{ Params: { id: string } }>('/v1.0/applications/:id', async (request) => {
    const caller = principalOf(request);
    const found = isGuid(request.params.id)
      ? await identityStore.getApplication(ctx.db, request.params.id.toLowerCase())
      : undefined;
    if (!found || found.home_tenant_id !== ownDirectoryOf(caller)) throw graphErrors.notFound(request.params.id);
    return withKeys(found);
  });

  app.post<{ Body: { appId: string } }>(
    '/v1.0/servicePrincipals',
    { schema: { body: Type.Object({ appId: Type.String({ minLength: 1 }) }) } },
    async (request, reply) => {
      const sp = await addServicePrincipal(ctx, principalOf(request), request.body.appId);
      return reply.status(201).send(await getServicePrincipal(ctx, principalOf(request), sp.object_id));
    },
  );

  app.get('/v1.0/servicePrincipals', async (request) => {
    const page = pageOf(request, SERVICE_PRINCIPAL_ORDER);
    const caller = principalOf(request);
    const filter = queryValue(request, '$filter');
    const rows = await listServicePrincipals(ctx, caller, filter, page);
    return odataPage(request, baseUrl(), page, rows, servicePrincipalView);
  });

  app.get<{ Params: { id: string } }>('/v1.0/servicePrincipals/:id', async (request) =>
    getServicePrincipal(ctx, principalOf(request), request.params.id),
  );

  app.get<{ Params: { id: string } }>('/v1.0/directoryObjects/:id', async (request) =>
    getDirectoryObject(ctx, principalOf(request), request.params.id),
  );

  app.get('/v1.0/organization', async (request) => {
    const dir = await identityStore.getDirectory(ctx.identity.db, ownDirectoryOf(principalOf(request)));
    if (!dir) throw graphErrors.denied();
    return {
      value: [
        {
          id: dir.tenant_id,
          displayName: dir.display_name,
          createdDateTime: dir.created_at.toISOString(),
          verifiedDomains: [{ name: dir.default_domain, isDefault: true, isInitial: true, type: 'Managed' }],
        },
      ],
    };
  });

  app.get('/v1.0/auditLogs/directoryAudits', async (request) => {
    const caller = principalOf(request);
    const directory = await requireDirectoryAdmin(ctx.identity.db, caller);
    const { from, to } = parseTimeFilter(queryValue(request, '$filter'), 'activityDateTime');
    const page = pageOf(request, ACTIVITY_ORDER);
    const rows = await auditStore.list(ctx.db, directory.tenant_id, from, to, page);
    return odataPage(request, baseUrl(), page, rows, directoryAuditView);
  });
}
