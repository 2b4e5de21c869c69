import type { WithGeneratedId } from '../db/database.ts';

export interface ActivityLogTable {
  id: string; // bigserial, as text
  directory_id: string;
  partner_id: string | null;
  occurred_at: Date;
  actor_object_id: string;
  actor_tenant_id: string;
  actor_name: string | null;
  operation: string;
  resource_type: string;
  resource_id: string;
  old_value: unknown;
  new_value: unknown;
}

export interface AuditTables {
  activity_log: WithGeneratedId<ActivityLogTable>;
}
