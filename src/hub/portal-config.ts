// What the hub tells the portal at /portal/config.json, anonymously: only what the sign-in page
// and the first calls need (no cloud ids: the operator's page reads its own from the stack). Types
// only: the browser bundle imports them too, so this file imports nothing.

export interface PortalStack {
  /** The registration's name, as the CSP knows the deployment. */
  name: string;
  adminArm: string;
  tenantArm: string;
  /** The stack's application in the operator's directory: a tenant directory consents to it. */
  applicationId: string;
}

export interface PortalConfig {
  hub: { arm: string; login: string; partnerCenter: string; graph: string; portal: string };
  /** The public client the portal signs users in with (the password grant). */
  clientId: string;
  /** The hub's time; under `--clock` the simulated one, which bounds the usage queries. */
  clock: { now: string; simulated: boolean };
  stacks: PortalStack[];
}
