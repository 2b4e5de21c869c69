import { randomUUID } from 'node:crypto';
import { Option, type Command } from 'commander';
import { CONTRIBUTOR, OWNER, READER } from '../arm/roles.ts';
import { actorOptions, whoActs, type ActorFlags } from './actor.ts';
import {
  armList,
  CliError,
  resolveCustomer,
  runClient,
  type Connection,
  type CustomerRef,
  type Identity,
} from './client.ts';
import { dataOption, jsonOption, print, table, tableOrNone } from './output.ts';

// A customer's directory (seed step 3): the customer's administrator invites the CSP as a guest,
// the guest signs in, and the customer raises it to Owner of its subscription; role assignments
// on the hub's ARM endpoint or on a stack's tenant endpoint.

export interface Invitation {
  id: string;
  invitedUserEmailAddress: string;
  status: string;
  guestId: string;
}

/** The directory administrator `who` invites a person of another directory as a guest. */
export async function inviteGuest(c: Connection, who: Identity, email: string): Promise<Invitation> {
  const { graph } = c.bootstrap.hub;
  const inv = await c.http.call('POST', `${graph}/v1.0/invitations`, {
    token: await c.tokenAs(who, graph),
    body: {
      invitedUserEmailAddress: email,
      inviteRedirectUrl: c.bootstrap.hub.portal,
      invitedUserType: 'Guest',
      sendInvitationMessage: false,
    },
  });
  return {
    id: inv.id,
    invitedUserEmailAddress: inv.invitedUserEmailAddress,
    status: inv.status,
    guestId: inv.invitedUser.id,
  };
}

/** The guest signs in to the inviting directory with its own credentials, which completes the invitation. */
export async function signInAsGuest(
  c: Connection,
  customer: CustomerRef,
): Promise<{ tenantId: string; userName: string }> {
  const { csp } = c.bootstrap;
  await c.tokenAs({ kind: 'user', name: csp.admin.userName, tenantId: customer.id, ...csp.admin }, c.bootstrap.hub.arm);
  return { tenantId: customer.id, userName: csp.admin.userName };
}

const ROLES: Record<string, string> = { Owner: OWNER, Contributor: CONTRIBUTOR, Reader: READER };
const roleName = (definitionId: string) =>
  Object.entries(ROLES).find(([, id]) => definitionId.toLowerCase().endsWith(id))?.[0] ?? definitionId;

/** The ARM endpoint a role assignment is made on: the hub's, or a stack's tenant endpoint. */
export const armEndpoint = (c: Connection, stack?: string) => (stack ? c.stack(stack).tenantArm : c.bootstrap.hub.arm);

export interface RoleAssignment {
  id: string;
  role: string;
  principalId: string;
  principalType: string;
  scope: string;
}

const assignmentOf = (a: {
  id: string;
  properties: { roleDefinitionId: string; principalId: string; principalType: string; scope: string };
}): RoleAssignment => ({
  id: a.id,
  role: roleName(a.properties.roleDefinitionId),
  principalId: a.properties.principalId,
  principalType: a.properties.principalType,
  scope: a.properties.scope,
});

export async function assignRole(
  c: Connection,
  who: Identity,
  input: { endpoint: string; subscriptionId: string; principalId: string; role: string },
): Promise<RoleAssignment> {
  const roleId = ROLES[input.role];
  if (!roleId) throw new CliError(`'${input.role}' is not a built-in role; use ${Object.keys(ROLES).join(', ')}.`, 2);
  const scope = `/subscriptions/${input.subscriptionId}`;
  const created = await c.http.call(
    'PUT',
    `${input.endpoint}${scope}/providers/Microsoft.Authorization/roleAssignments/${randomUUID()}?api-version=2022-04-01`,
    {
      token: await c.tokenAs(who, input.endpoint),
      body: {
        properties: {
          roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
          principalId: input.principalId,
        },
      },
    },
  );
  return assignmentOf(created);
}

interface CustomerActorFlags extends ActorFlags {
  customer?: string;
  data: string;
  json?: boolean;
}

export function registerDirectoryCommands(program: Command): void {
  const invitations = program
    .command('invitations')
    .description("Guests in a customer's directory (seed step 3): the customer's administrator invites the CSP.");

  actorOptions(
    invitations
      .command('create')
      .description(
        "Invite a person of another directory (default: the CSP's administrator) as a guest of the customer's directory.",
      )
      .requiredOption('--customer <customer>', 'the customer (id or domain) whose directory invites')
      .option('--email <address>', "who is invited (default: the CSP's administrator)"),
  )
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: CustomerActorFlags & { email?: string }) => {
      const invitation = await runClient(o.data, async (c) => {
        const who = await whoActs(c, o);
        return inviteGuest(c, who, o.email ?? c.bootstrap.csp.admin.userName);
      });
      print(o.json, invitation, () =>
        table(
          ['invitation', 'invited', 'guest object id', 'status'],
          [[invitation.id, invitation.invitedUserEmailAddress, invitation.guestId, invitation.status]],
        ),
      );
    });

  invitations
    .command('accept')
    .description(
      "The CSP's administrator signs in to the customer's directory as its guest, which completes the invitation.",
    )
    .requiredOption('--customer <customer>', 'the customer (id or domain)')
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: { customer: string; data: string; json?: boolean }) => {
      const signedIn = await runClient(o.data, async (c) => signInAsGuest(c, await resolveCustomer(c, o.customer)));
      print(o.json, signedIn, () => `${signedIn.userName} signed in to ${signedIn.tenantId} as a guest`);
    });

  const users = program.command('users').description('Users of a directory (the directory API).');
  actorOptions(
    users
      .command('list')
      .description("List a customer's directory's users, members and guests.")
      .requiredOption('--customer <customer>', 'the customer (id or domain)'),
  )
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: CustomerActorFlags) => {
      const list = await runClient(o.data, async (c) => {
        const who = await whoActs(c, o);
        const { graph } = c.bootstrap.hub;
        const token = await c.tokenAs(who, graph);
        type User = { id: string; userPrincipalName: string; userType: string; externalUserState?: string | null };
        const out: User[] = [];
        for (let next: string | undefined = `${graph}/v1.0/users`; next;) {
          const page: { value: User[]; '@odata.nextLink'?: string } = await c.http.call('GET', next, { token });
          out.push(...page.value);
          next = page['@odata.nextLink'];
        }
        return out.map((u) => ({
          id: u.id,
          userPrincipalName: u.userPrincipalName,
          userType: u.userType,
          externalUserState: u.externalUserState ?? null,
        }));
      });
      print(o.json, list, () =>
        tableOrNone(
          ['object id', 'user principal name', 'type', 'invitation'],
          list.map((u) => [u.id, u.userPrincipalName, u.userType, u.externalUserState]),
          'no users',
        ),
      );
    });

  const roles = program
    .command('role-assignments')
    .description('Role assignments on a subscription, on the hub or on a stack (--stack).');

  actorOptions(
    roles
      .command('create')
      .description(
        "Give a principal a built-in role on a subscription; with --customer, as the customer's administrator by default.",
      )
      .requiredOption('--subscription <id>', 'the subscription')
      .requiredOption('--principal <objectId>', "the principal's object id (a guest's: from 'invitations create')")
      .addOption(new Option('--role <role>', 'the built-in role').choices(Object.keys(ROLES)).default('Owner'))
      .option('--stack <name>', "on this stack's tenant endpoint (default: the hub)")
      .option('--customer <customer>', 'the customer (id or domain) whose directory the subscription is in'),
  )
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(
      async (o: CustomerActorFlags & { subscription: string; principal: string; role: string; stack?: string }) => {
        const assignment = await runClient(o.data, async (c) => {
          const who = await whoActs(c, o);
          return assignRole(c, who, {
            endpoint: armEndpoint(c, o.stack),
            subscriptionId: o.subscription,
            principalId: o.principal,
            role: o.role,
          });
        });
        print(o.json, assignment, () =>
          table(
            ['role', 'principal', 'type', 'scope'],
            [[assignment.role, assignment.principalId, assignment.principalType, assignment.scope]],
          ),
        );
      },
    );

  actorOptions(
    roles
      .command('list')
      .description('List the role assignments of a subscription.')
      .requiredOption('--subscription <id>', 'the subscription')
      .option('--stack <name>', "on this stack's tenant endpoint (default: the hub)")
      .option('--customer <customer>', 'the customer (id or domain) whose directory the subscription is in'),
  )
    .addOption(dataOption())
    .addOption(jsonOption())
    .action(async (o: CustomerActorFlags & { subscription: string; stack?: string }) => {
      const list = await runClient(o.data, async (c) => {
        const who = await whoActs(c, o);
        const endpoint = armEndpoint(c, o.stack);
        const rows = await armList(
          c,
          `${endpoint}/subscriptions/${o.subscription}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01`,
          await c.tokenAs(who, endpoint),
        );
        return rows.map(assignmentOf);
      });
      print(o.json, list, () =>
        tableOrNone(
          ['role', 'principal', 'type', 'scope'],
          list.map((a) => [a.role, a.principalId, a.principalType, a.scope]),
          'no role assignments',
        ),
      );
    });
}
