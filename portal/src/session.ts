import type { PortalConfig, PortalStack } from '../../src/hub/portal-config.ts';
import { api, ApiError } from './api.ts';

// Where the APIs are (the hub's config.json) and who is signed in. Sign-in is the token endpoint's
// password grant with a public client: one token per API the role uses, kept in sessionStorage
// (this tab only) until it expires. The password itself is never stored.

export type { PortalConfig };
export type StackInfo = PortalStack;

export type Role = 'csp' | 'operator' | 'tenant';

export const ROLE_NAMES: Record<Role, string> = { csp: 'Cloud service provider', operator: 'Stack operator', tenant: 'Tenant user' };

export interface Session {
  role: Role;
  userName: string;
  displayName: string;
  /** The directory the user signed in to. */
  tenantId: string;
  /** Earliest expiry of the tokens, in epoch milliseconds. */
  expiresAt: number;
  /** Access tokens by resource (an API's base URL). */
  tokens: Record<string, string>;
}

export const loadConfig = () => api<PortalConfig>('GET', `${import.meta.env.BASE_URL}config.json`);

/** The APIs each role works with. */
export function resourcesFor(role: Role, config: PortalConfig): string[] {
  if (role === 'csp') return [config.hub.arm, config.hub.partnerCenter, config.hub.graph];
  if (role === 'operator') return config.stacks.map((s) => s.adminArm);
  // A tenant's directory consents to a stack's application through the directory API.
  return [...config.stacks.map((s) => s.tenantArm), config.hub.graph];
}

function claimsOf(token: string): Record<string, any> {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(decodeURIComponent(escape(atob(payload))));
}

const KEY = 'stackledger.session';

export async function signIn(config: PortalConfig, role: Role, userName: string, password: string): Promise<Session> {
  const resources = resourcesFor(role, config);
  if (resources.length === 0) throw new ApiError('No stack is registered with this hub yet, so there is nothing to sign in to as this role.', 0);
  // `organizations`: the hub finds the user's home directory from the user name.
  const url = `${config.hub.login}/organizations/oauth2/token`;
  const responses = await Promise.all(
    resources.map((resource) =>
      api<{ access_token: string; expires_on: string }>('POST', url, {
        form: { grant_type: 'password', client_id: config.clientId, username: userName, password, resource },
      }),
    ),
  );
  const tokens = Object.fromEntries(resources.map((r, i) => [r, responses[i].access_token]));
  const claims = claimsOf(responses[0].access_token);
  const session: Session = {
    role,
    userName,
    displayName: String(claims.name ?? userName),
    tenantId: String(claims.tid),
    expiresAt: Math.min(...responses.map((r) => Number(r.expires_on) * 1000)),
    tokens,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export function currentSession(): Session | undefined {
  const text = sessionStorage.getItem(KEY);
  if (!text) return undefined;
  const session = JSON.parse(text) as Session;
  // A minute of margin, so a request does not leave with a token about to expire.
  if (session.expiresAt - 60_000 < Date.now()) {
    sessionStorage.removeItem(KEY);
    return undefined;
  }
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** The token for one API, or a readable error when the session has none for it. */
export function tokenFor(session: Session, resource: string): string {
  const token = session.tokens[resource];
  if (!token) throw new ApiError(`This session has no token for ${resource}; sign out and sign in again.`, 401);
  return token;
}
