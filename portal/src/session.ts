import type { PortalConfig, PortalStack } from '../../src/hub/portal-config.ts';
import { api, ApiError } from './api.ts';

// Where the APIs are (the hub's config.json) and who is signed in. Sign-in is the token endpoint's
// password grant with a public client, once: its refresh token gets a token for each other API the
// role uses and renews them all before they expire. They are kept in sessionStorage (this tab
// only); the password itself is never stored.

export type { PortalConfig };
export type StackInfo = PortalStack;

export type Role = 'csp' | 'operator' | 'tenant';

export const ROLE_NAMES: Record<Role, string> = {
  csp: 'Cloud service provider',
  operator: 'Stack operator',
  tenant: 'Tenant user',
};

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
  /** Renews the tokens before they expire (the refresh grant); never the password. */
  refreshToken: string;
}

export const loadConfig = () => api<PortalConfig>('GET', `${import.meta.env.BASE_URL}config.json`);

/** The APIs each role works with. */
export function resourcesFor(role: Role, config: PortalConfig): string[] {
  if (role === 'csp') return [config.hub.arm, config.hub.partnerCenter, config.hub.graph];
  if (role === 'operator') return config.stacks.map((s) => s.adminArm);
  // A tenant's directory consents to a stack's application through the directory API; its
  // administrator manages access, budgets and webhooks on the hub's ARM endpoint.
  return [...config.stacks.map((s) => s.tenantArm), config.hub.graph, config.hub.arm];
}

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
  return JSON.parse(decodeURIComponent(escape(atob(payload))));
}

const KEY = 'stackledger.session';

/** OpenID scopes with each request: `offline_access` gets a refresh token, so one sign-in serves every API and outlives the hour. */
const OPENID_SCOPES = 'openid profile offline_access';
/** How long before the tokens expire the portal renews them. */
export const REFRESH_MARGIN_MS = 5 * 60_000;

interface TokenAnswer {
  access_token: string;
  expires_on: string;
  refresh_token?: string;
}

/**
 * Tokens for each resource: the first with the given grant, the others from its refresh token.
 * `organizations`: the hub finds the user's home directory from the user name (or the refresh token).
 */
async function tokensFor(config: PortalConfig, resources: string[], grant: Record<string, string>) {
  const url = `${config.hub.login}/organizations/oauth2/token`;
  const request = (resource: string, g: Record<string, string>) =>
    api<TokenAnswer>('POST', url, { form: { ...g, client_id: config.clientId, resource, scope: OPENID_SCOPES } });
  const first = await request(resources[0], grant);
  if (!first.refresh_token) throw new ApiError('The sign-in gave no refresh token.', 0);
  const rest = await Promise.all(
    resources.slice(1).map((r) => request(r, { grant_type: 'refresh_token', refresh_token: first.refresh_token! })),
  );
  const answers = [first, ...rest];
  return {
    tokens: Object.fromEntries(resources.map((r, i) => [r, answers[i].access_token])),
    expiresAt: Math.min(...answers.map((a) => Number(a.expires_on) * 1000)),
    refreshToken: first.refresh_token,
    claims: claimsOf(first.access_token),
  };
}

export async function signIn(config: PortalConfig, role: Role, userName: string, password: string): Promise<Session> {
  const resources = resourcesFor(role, config);
  if (resources.length === 0)
    throw new ApiError('No stack is registered with this hub yet, so there is nothing to sign in to as this role.', 0);
  const { tokens, expiresAt, refreshToken, claims } = await tokensFor(config, resources, {
    grant_type: 'password',
    username: userName,
    password,
  });
  const session: Session = {
    role,
    userName,
    displayName: String(claims.name ?? userName),
    tenantId: String(claims.tid),
    expiresAt,
    tokens,
    refreshToken,
  };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

/** New tokens for the session's APIs from its refresh token, before the old ones expire. */
export async function refreshSession(config: PortalConfig, session: Session): Promise<Session> {
  const { tokens, expiresAt, refreshToken } = await tokensFor(config, Object.keys(session.tokens), {
    grant_type: 'refresh_token',
    refresh_token: session.refreshToken,
  });
  const renewed: Session = { ...session, tokens, expiresAt, refreshToken };
  // Signed out meanwhile: nothing is stored again.
  if (sessionStorage.getItem(KEY) !== null) sessionStorage.setItem(KEY, JSON.stringify(renewed));
  return renewed;
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
