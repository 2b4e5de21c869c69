import { render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { messageOf } from './api.ts';
import { CustomerPage, CustomersPage } from './pages/csp-customers.tsx';
import { InvoicePage, InvoicesPage } from './pages/csp-invoices.tsx';
import { RegistrationsPage } from './pages/csp-registrations.tsx';
import { BridgePage } from './pages/bridge.tsx';
import { ChargebackPage, DirectoriesPage, StackSubscriptionsPage, type StackPageProps } from './pages/operator.tsx';
import { OffersPage } from './pages/operator-offers.tsx';
import { PlansPage } from './pages/operator-plans.tsx';
import { QuotasPage } from './pages/operator-quotas.tsx';
import { TenantResourcesPage, TenantUsagePage } from './pages/tenant.tsx';
import { AccessPage } from './pages/people-access.tsx';
import { BudgetsPage } from './pages/people-budgets.tsx';
import { RedeemPage } from './pages/people-redeem.tsx';
import { WebhooksPage } from './pages/people-webhooks.tsx';
import {
  currentSession,
  loadConfig,
  refreshSession,
  REFRESH_MARGIN_MS,
  ROLE_NAMES,
  signIn,
  signOut,
  type PortalConfig,
  type Role,
  type Session,
} from './session.ts';
import { ActionForm, ErrorMessage, Field, formatTime, Link, navigate, usePath, useLoad } from './ui.tsx';
import './styles.css';

// The portal's shell: sign-in, then the pages of the signed-in role with its navigation.

const NAV: Record<Role, { to: string; label: string }[]> = {
  csp: [
    { to: '/customers', label: 'Customers' },
    { to: '/registrations', label: 'Registrations' },
    { to: '/invoices', label: 'Invoices' },
    { to: '/access', label: 'Access' },
    { to: '/budgets', label: 'Budgets' },
    { to: '/webhooks', label: 'Webhooks' },
  ],
  operator: [
    { to: '/operator/directories', label: 'Directories' },
    { to: '/operator/quotas', label: 'Quotas' },
    { to: '/operator/plans', label: 'Plans' },
    { to: '/operator/offers', label: 'Offers' },
    { to: '/operator/subscriptions', label: 'Subscriptions' },
    { to: '/operator/bridge', label: 'Bridge' },
    { to: '/operator/chargeback', label: 'Chargeback' },
  ],
  tenant: [
    { to: '/tenant/resources', label: 'Resources' },
    { to: '/tenant/usage', label: 'Usage' },
    { to: '/tenant/access', label: 'Access' },
    { to: '/tenant/budgets', label: 'Budgets' },
    { to: '/tenant/webhooks', label: 'Webhooks' },
  ],
};

function SignIn({
  config,
  onSignedIn,
  notice,
}: {
  config: PortalConfig;
  onSignedIn: (s: Session) => void;
  notice?: string;
}) {
  const [role, setRole] = useState<Role>('csp');
  const submit = async (form: FormData) =>
    onSignedIn(await signIn(config, role, String(form.get('userName')).trim(), String(form.get('password'))));
  return (
    <main class="signin">
      <h1>Stackledger</h1>
      <p class="muted">Sign in to manage customers, stacks and usage.</p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ActionForm label="Sign in" submit="Sign in" busy="Signing in…" errorTitle="Sign-in failed" onSubmit={submit}>
        <fieldset class="roles">
          <legend>Sign in as</legend>
          {(Object.keys(ROLE_NAMES) as Role[]).map((r) => (
            <label class="choice">
              <input type="radio" name="role" value={r} checked={role === r} onChange={() => setRole(r)} />
              {ROLE_NAMES[r]}
            </label>
          ))}
        </fieldset>
        <Field label="User name">
          <input
            name="userName"
            type="email"
            required
            autocomplete="username"
            autocapitalize="none"
            placeholder="admin@contoso.onstackledger.local"
          />
        </Field>
        <Field label="Password">
          <input name="password" type="password" required autocomplete="current-password" />
        </Field>
      </ActionForm>
    </main>
  );
}

function Shell(props: {
  session: Session;
  config: PortalConfig;
  path: string;
  stackIndex: number;
  setStackIndex: (i: number) => void;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const { session, config } = props;
  const onStack = session.role !== 'csp';
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <strong>Stackledger</strong>
          <span class="role">{ROLE_NAMES[session.role]}</span>
        </div>
        <button
          type="button"
          class="menu secondary"
          aria-expanded={menuOpen}
          aria-controls="nav"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          Menu
        </button>
        {/* biome-ignore lint/a11y/useKeyWithClickEvents: the click comes from the links inside, which the keyboard activates (Enter clicks a link); it closes the small-screen menu */}
        <nav id="nav" class={menuOpen ? 'open' : undefined} aria-label="Main" onClick={() => setMenuOpen(false)}>
          {NAV[session.role].map((n) => (
            <Link to={n.to} current={props.path.startsWith(n.to)}>
              {n.label}
            </Link>
          ))}
        </nav>
        <div class="who">
          {onStack && config.stacks.length > 1 && (
            <select
              aria-label="Stack"
              value={props.stackIndex}
              onChange={(e) => props.setStackIndex(Number(e.currentTarget.value))}
            >
              {config.stacks.map((s, i) => (
                <option value={i}>{s.name}</option>
              ))}
            </select>
          )}
          {onStack && config.stacks.length === 1 && <span class="muted">Stack {config.stacks[0].name}</span>}
          <span title={session.tenantId}>{session.displayName}</span>
          <button type="button" class="secondary" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main">{props.children}</main>
      <footer class="muted">
        Clock {formatTime(config.clock.now)}
        {config.clock.simulated ? ' (simulated)' : ''} · signed in as {session.userName}
      </footer>
    </>
  );
}

function Page({
  path,
  session,
  config,
  stackIndex,
}: {
  path: string;
  session: Session;
  config: PortalConfig;
  stackIndex: number;
}) {
  const props = { session, config };
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (session.role === 'csp') {
    // A page of one customer or invoice is keyed by it: moving to another (the draft to its number
    // after Finalize) starts it anew, so nothing loaded for the one before shows at the new address.
    if (parts[0] === 'customers' && parts[1]) return <CustomerPage key={parts[1]} {...props} customerId={parts[1]} />;
    if (parts[0] === 'customers') return <CustomersPage {...props} />;
    if (parts[0] === 'registrations') return <RegistrationsPage {...props} />;
    if (parts[0] === 'invoices' && parts[1]) return <InvoicePage key={parts[1]} {...props} invoiceNumber={parts[1]} />;
    if (parts[0] === 'invoices') return <InvoicesPage {...props} />;
    if (parts[0] === 'access') return <AccessPage {...props} />;
    if (parts[0] === 'budgets') return <BudgetsPage {...props} />;
    if (parts[0] === 'webhooks') return <WebhooksPage {...props} />;
  } else if (session.role === 'tenant' && ['access', 'budgets', 'webhooks'].includes(parts[1])) {
    // A customer's administrator's pages on the hub, whichever stack is chosen.
    if (parts[1] === 'access') return <AccessPage {...props} />;
    if (parts[1] === 'budgets') return <BudgetsPage {...props} />;
    return <WebhooksPage {...props} />;
  } else {
    const stack = config.stacks[stackIndex] ?? config.stacks[0];
    if (!stack) return <ErrorMessage error="No stack is registered with this hub." />;
    const stackProps: StackPageProps = { ...props, stack };
    const page = `${parts[0]}/${parts[1] ?? ''}`;
    // Keyed by stack, so that switching stacks loads everything anew.
    if (session.role === 'operator') {
      if (page === 'operator/directories') return <DirectoriesPage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/quotas') return <QuotasPage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/plans') return <PlansPage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/offers') return <OffersPage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/subscriptions') return <StackSubscriptionsPage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/bridge') return <BridgePage key={stack.adminArm} {...stackProps} />;
      if (page === 'operator/chargeback') return <ChargebackPage key={stack.adminArm} {...stackProps} />;
    } else {
      if (page === 'tenant/resources') return <TenantResourcesPage key={stack.tenantArm} {...stackProps} />;
      if (page === 'tenant/usage') return <TenantUsagePage key={stack.tenantArm} {...stackProps} />;
    }
  }
  return (
    <>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code> for your role.{' '}
        <Link to={NAV[session.role][0].to}>Go to {NAV[session.role][0].label}</Link>.
      </p>
    </>
  );
}

/** Renews the session's tokens shortly before they expire; if that fails, the session expires as it would have. */
function useSessionRenewal(
  config: PortalConfig | undefined,
  session: Session | undefined,
  setSession: (s: Session) => void,
) {
  useEffect(() => {
    if (!config || !session) return;
    const timer = setTimeout(
      () => {
        refreshSession(config, session).then(
          (renewed) => currentSession() && setSession(renewed), // not after a sign-out meanwhile
          (e) => console.warn('the session could not be renewed:', messageOf(e)),
        );
      },
      Math.max(0, session.expiresAt - REFRESH_MARGIN_MS - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [config === undefined, session]);
}

function App() {
  const path = usePath();
  // Read again on every page change: the clock it carries moves (and stacks may register).
  const config = useLoad(loadConfig, [path]);
  const [session, setSession] = useState<Session | undefined>(currentSession());
  const [stackIndex, setStackIndex] = useState(0);
  const [notice, setNotice] = useState<string>();
  useSessionRenewal(config.data, session, setSession);
  if (config.error)
    return (
      <main class="signin">
        <h1>Stackledger</h1>
        <ErrorMessage error={config.error} title="The portal could not read its configuration" />
      </main>
    );
  if (!config.data)
    return (
      <main class="signin">
        <p class="muted">Loading…</p>
      </main>
    );
  // Accepting an invitation needs no session: the guest signs in to the inviting directory there.
  if (path === '/redeem') return <RedeemPage config={config.data} />;
  // A session found expired on the way sends the user back to sign in, saying why.
  const live = session && currentSession() ? session : undefined;
  if (!live) {
    return (
      <SignIn
        config={config.data}
        notice={notice ?? (session ? 'Your session expired; sign in again.' : undefined)}
        onSignedIn={(s) => {
          setSession(s);
          setNotice(undefined);
          navigate(NAV[s.role][0].to);
        }}
      />
    );
  }
  if (path === '/' || path === '/signin') {
    queueMicrotask(() => navigate(NAV[live.role][0].to));
    return null;
  }
  return (
    <Shell
      session={live}
      config={config.data}
      path={path}
      stackIndex={stackIndex}
      setStackIndex={setStackIndex}
      onSignOut={() => {
        signOut();
        setSession(undefined);
        setNotice('You signed out.');
        navigate('/');
      }}
    >
      <Page path={path} session={live} config={config.data} stackIndex={stackIndex} />
    </Shell>
  );
}

addEventListener('unhandledrejection', (e) => console.error('unhandled:', messageOf(e.reason)));
render(<App />, document.getElementById('app')!);
