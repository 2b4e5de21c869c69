import type { Principal } from '../core/principal.ts';
import { auditStore, type AuditDb } from './store.ts';

// Every change made through the partner center or the directory API leaves a record: who, when,
// what, the value before and after. Records are written in the same transaction as the change.

export interface Change {
  directoryId: string;
  partnerId?: string | null;
  operation: string;
  resourceType: string;
  resourceId: string;
  oldValue?: unknown;
  newValue?: unknown;
}

export async function recordChanges(db: AuditDb, actor: Principal, at: Date, changes: Change[]): Promise<void> {
  await auditStore.append(
    db,
    changes.map((c) => ({
      directory_id: c.directoryId,
      partner_id: c.partnerId ?? null,
      occurred_at: at,
      actor_object_id: actor.objectId,
      actor_tenant_id: actor.tenantId,
      actor_name: actor.userPrincipalName ?? actor.appId ?? null,
      operation: c.operation,
      resource_type: c.resourceType,
      resource_id: c.resourceId,
      old_value: c.oldValue ?? null,
      new_value: c.newValue ?? null,
    })),
  );
}
