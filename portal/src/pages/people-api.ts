import { api, ApiError, armList, errorOf } from '../api.ts';
import { tokenFor, type PortalConfig, type Session } from '../session.ts';

// What the people's pages share (access, budgets, webhooks, invoice documents): the hub's ARM
// endpoint and the directory API with the session's tokens, the subscriptions the caller sees on
// the hub, and downloading a document with the bearer token. The CSP and a customer's
// administrator (the tenant role) use them alike: the hub decides what each may see and do.

export interface PeopleProps {
  session: Session;
  config: PortalConfig;
}

export const SUBSCRIPTIONS_API = 'api-version=2022-12-01';
export const ROLES_API = 'api-version=2022-04-01';
export const HUB_API = 'api-version=2026-11-01';

export const hubArm = (p: PeopleProps) => ({ base: p.config.hub.arm, token: tokenFor(p.session, p.config.hub.arm) });
export const graph = (p: PeopleProps) => ({ base: p.config.hub.graph, token: tokenFor(p.session, p.config.hub.graph) });

export interface HubSubscription {
  subscriptionId: string;
  displayName: string;
  state: string;
}

export const hubSubscriptions = (p: PeopleProps) => {
  const { base, token } = hubArm(p);
  return armList<HubSubscription>(`${base}/subscriptions?${SUBSCRIPTIONS_API}`, token);
};

export interface DirectoryUser {
  id: string;
  displayName: string;
  userPrincipalName: string;
  userType?: string;
  externalUserState?: string | null;
}

/** The users of the caller's directory (following the directory API's @odata.nextLink). */
export async function directoryUsers(p: PeopleProps): Promise<DirectoryUser[]> {
  const { base, token } = graph(p);
  const users: DirectoryUser[] = [];
  let next: string | undefined = `${base}/v1.0/users`;
  while (next) {
    const page: { value?: DirectoryUser[]; '@odata.nextLink'?: string } = await api('GET', next, { token });
    users.push(...(page.value ?? []));
    next = page['@odata.nextLink'];
  }
  return users;
}

/** Fetches a document with the bearer token and hands it to the browser as a file to save. */
export async function downloadWithToken(url: string, token: string, fileName: string): Promise<void> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } }).catch(() => {
    throw new ApiError(`Could not reach ${new URL(url).origin}.`, 0, 'NetworkError');
  });
  if (!response.ok) {
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON: the text itself is the message.
    }
    throw errorOf(response.status, response.statusText, body);
  }
  const href = URL.createObjectURL(await response.blob());
  const link = document.createElement('a');
  link.href = href;
  link.download = fileName;
  link.click();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}
