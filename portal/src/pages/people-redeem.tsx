import { useState } from 'preact/hooks';
import { api } from '../api.ts';
import type { PortalConfig } from '../session.ts';
import { ActionForm, Field, Link } from '../ui.tsx';

// Accepting an invitation (the link the directory API's invitation gives): the guest signs in to
// the inviting directory once with its own credentials, which completes the invitation at the
// token endpoint. No session is kept: the guest then signs in as usual.

export function RedeemPage({ config }: { config: PortalConfig }) {
  const query = new URLSearchParams(location.search);
  const tenant = query.get('tenant') ?? '';
  const [accepted, setAccepted] = useState(false);
  const accept = async (form: FormData) => {
    await api('POST', `${config.hub.login}/${encodeURIComponent(tenant)}/oauth2/token`, {
      form: {
        grant_type: 'password',
        client_id: config.clientId,
        resource: config.hub.arm,
        username: String(form.get('userName')).trim(),
        password: String(form.get('password')),
      },
    });
    setAccepted(true);
  };
  return (
    <main class="signin">
      <h1>Accept an invitation</h1>
      {!/^[0-9a-f-]{36}$/i.test(tenant) ? (
        <p role="alert" class="error">
          This link names no directory; ask for the invitation link again.
        </p>
      ) : accepted ? (
        <p role="status" class="notice">
          Invitation accepted: you are now a guest of directory <code>{tenant}</code>. <Link to="/">Sign in</Link>.
        </p>
      ) : (
        <>
          <p class="muted">
            Directory <code>{tenant}</code> invited you as a guest. Sign in with your own account to accept.
          </p>
          <ActionForm
            label="Accept the invitation"
            submit="Accept invitation"
            errorTitle="Not accepted"
            onSubmit={accept}
          >
            <Field label="User name">
              <input name="userName" type="email" required autocomplete="username" autocapitalize="none" />
            </Field>
            <Field label="Password">
              <input name="password" type="password" required autocomplete="current-password" />
            </Field>
          </ActionForm>
        </>
      )}
    </main>
  );
}
