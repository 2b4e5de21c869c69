import { useState } from 'preact/hooks';
import { CONTRIBUTOR, OWNER, READER } from '../../../src/arm/roles.ts';
import { api, armList } from '../api.ts';
import { ActionButton, ActionForm, Field, Loading, Panel, StatusBadge, Table, useLoad } from '../ui.tsx';
import { directoryUsers, graph, hubArm, type DirectoryUser, type PeopleProps, ROLES_API } from './people-api.ts';
import { OnHubSubscription } from './people-subscription.tsx';

// Who may do what: guests invited into the caller's directory (the directory API's invitations,
// accepted at the redeem page) and role assignments on a subscription of the hub (ARM
// Microsoft.Authorization/roleAssignments: Owner, Contributor or Reader for a user of the directory).

const ROLES: Record<string, string> = { Owner: OWNER, Contributor: CONTRIBUTOR, Reader: READER };
const roleName = (definitionId: string) =>
  Object.entries(ROLES).find(([, id]) => definitionId.toLowerCase().endsWith(id))?.[0] ?? definitionId;

interface RoleAssignment {
  id: string;
  name: string;
  properties: { roleDefinitionId: string; principalId: string; principalType?: string; scope: string };
}

interface Invitation {
  invitedUserEmailAddress: string;
  inviteRedeemUrl: string;
  status: string;
}

function Invitations(p: PeopleProps & { users: DirectoryUser[]; changed: () => void }) {
  const [sent, setSent] = useState<Invitation>();
  const invite = async (form: FormData) => {
    const { base, token } = graph(p);
    const invitation = await api<Invitation>('POST', `${base}/v1.0/invitations`, {
      token,
      body: {
        invitedUserEmailAddress: String(form.get('email')).trim(),
        inviteRedirectUrl: `${location.origin}${import.meta.env.BASE_URL}`,
        sendInvitationMessage: false,
      },
    });
    setSent(invitation);
    p.changed();
  };
  const guests = p.users.filter((u) => u.userType === 'Guest');
  return (
    <Panel title="Guests">
      <ActionForm label="Invite a guest" submit="Send invitation" onSubmit={invite} class="form inline">
        <Field label="Email of the person to invite" hint="A user of another directory on this hub.">
          <input name="email" type="email" required autocapitalize="none" />
        </Field>
      </ActionForm>
      {sent && (
        <p role="status">
          Invited {sent.invitedUserEmailAddress}. Send them this link to accept:{' '}
          <a href={sent.inviteRedeemUrl} data-testid="redeem-link">
            <code>{sent.inviteRedeemUrl}</code>
          </a>
        </p>
      )}
      <Table
        label="Guests"
        rows={guests}
        empty="No guest in this directory."
        columns={[
          { header: 'Guest', cell: (u) => u.displayName },
          { header: 'User name', cell: (u) => <code>{u.userPrincipalName}</code> },
          { header: 'Invitation', cell: (u) => <StatusBadge status={u.externalUserState ?? '—'} /> },
        ]}
      />
    </Panel>
  );
}

function RoleAssignments(p: PeopleProps & { subscriptionId: string; users: DirectoryUser[] }) {
  const { base, token } = hubArm(p);
  const scope = `/subscriptions/${p.subscriptionId}`;
  const collection = `${base}${scope}/providers/Microsoft.Authorization/roleAssignments`;
  const assignments = useLoad(() => armList<RoleAssignment>(`${collection}?${ROLES_API}`, token), [collection]);
  const who = (principalId: string) => {
    const user = p.users.find((u) => u.id === principalId);
    return user ? `${user.displayName} (${user.userPrincipalName})` : principalId;
  };
  const assign = async (form: FormData) => {
    await api('PUT', `${collection}/${crypto.randomUUID()}?${ROLES_API}`, {
      token,
      body: {
        properties: {
          roleDefinitionId: `${scope}/providers/Microsoft.Authorization/roleDefinitions/${ROLES[String(form.get('role'))]}`,
          principalId: String(form.get('principalId')),
        },
      },
    });
    assignments.reload();
  };
  const remove = async (a: RoleAssignment) => {
    await api('DELETE', `${collection}/${encodeURIComponent(a.name)}?${ROLES_API}`, { token });
    assignments.reload();
  };
  return (
    <>
      <ActionForm label="Assign a role" submit="Assign" onSubmit={assign} class="form inline">
        <Field label="User">
          <select name="principalId" required>
            {p.users.map((u) => (
              <option value={u.id}>
                {u.displayName} ({u.userPrincipalName})
              </option>
            ))}
          </select>
        </Field>
        <Field label="Role">
          <select name="role">
            {Object.keys(ROLES).map((r) => (
              <option value={r}>{r}</option>
            ))}
          </select>
        </Field>
      </ActionForm>
      <Loading state={assignments} what="role assignments">
        {(rows) => (
          <Table
            label="Role assignments"
            rows={rows}
            empty="No role is assigned on this subscription."
            columns={[
              { header: 'Principal', cell: (a) => who(a.properties.principalId) },
              { header: 'Role', cell: (a) => roleName(a.properties.roleDefinitionId) },
              { header: 'Scope', cell: (a) => <code>{a.properties.scope}</code> },
              {
                header: 'Actions',
                cell: (a) => (
                  <ActionButton
                    kind="danger"
                    label={`Remove ${roleName(a.properties.roleDefinitionId)} of ${who(a.properties.principalId)}`}
                    onClick={() => remove(a)}
                  >
                    Remove
                  </ActionButton>
                ),
              },
            ]}
          />
        )}
      </Loading>
    </>
  );
}

export function AccessPage(p: PeopleProps) {
  const users = useLoad(() => directoryUsers(p), []);
  return (
    <>
      <h1>Access</h1>
      <Loading state={users} what="the directory's users">
        {(list) => (
          <>
            <Invitations {...p} users={list} changed={users.reload} />
            <Panel title="Role assignments">
              <OnHubSubscription {...p}>
                {(sub) => <RoleAssignments {...p} subscriptionId={sub.subscriptionId} users={list} />}
              </OnHubSubscription>
            </Panel>
          </>
        )}
      </Loading>
    </>
  );
}
