import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ArmTables } from '../arm/tables.ts';
import { authorize, requireSubscription, type ArmContext, type SystemRights } from '../arm/service.ts';
import type { Principal } from '../core/principal.ts';
import { registrationErrors } from './rules.ts';
import { registrationStore } from './store.ts';
import type { RegistrationsTable, RegistrationTables } from './tables.ts';

// What the use cases of Microsoft.AzureStack registrations (registrations.ts) and their customer
// subscriptions (customer-subscriptions.ts) share: the hub's context, and the registration a path names.

export interface RegistrationContext {
  arm: ArmContext;
  /** Registration's tables on the hub's database, with ARM's subscriptions (what the ARM hooks take). */
  db: Kysely<RegistrationTables & Pick<ArmTables, 'subscriptions'>>;
  /** The provider's rights (approving registrations for multi-tenancy): roles at the root scope. */
  system: SystemRights;
  /** Signs an activation key for a registration. */
  signActivationKey(claims: Record<string, unknown>): Promise<string>;
  /** The key that a service principal's application published under `kid` (the directory's keyCredentials), valid now. */
  deploymentKey(servicePrincipalId: string, kid: string): Promise<DeploymentKey | undefined>;
}

export interface DeploymentKey {
  servicePrincipal: { objectId: string; tenantId: string; appId: string };
  publicKey: KeyObject;
}

export interface RegistrationRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export const registrationScope = (r: RegistrationRef) =>
  `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/Microsoft.AzureStack/registrations/${r.name}`;

/** The live registration named by the path; RegistrationNotFound repeats the three values as given. */
export async function requireRegistration(
  ctx: RegistrationContext,
  principal: Principal,
  ref: RegistrationRef,
  action: string,
): Promise<RegistrationsTable> {
  const sub = await requireSubscription(ctx.arm, ref.subscriptionId);
  await authorize(ctx.arm, principal, action, registrationScope(ref));
  const reg = await registrationStore.getLive(ctx.db, sub.subscription_id, ref.resourceGroup, ref.name);
  if (!reg) throw registrationErrors.registrationNotFound(ref.subscriptionId, ref.resourceGroup, ref.name);
  return reg;
}
