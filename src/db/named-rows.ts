import { sql, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { keyset } from '../core/paging.ts';

// The rows of ARM resources that a stack domain keeps in a table of its own (tenant resources,
// network resources): each has subscription_id, resource_group_key, type_key, name_key (lower
// case), location and deleted_at. One rule selects them for every such table.

export interface NamedRowFilter {
  subscriptionId: string;
  resourceGroup?: string;
  type?: string;
  name?: string;
  location?: string;
  /** Live rows only (the default), or deleted ones too. */
  live?: boolean;
}

/** The query narrowed to the rows the filter names; names compared case-insensitively. */
export function whereNamed<DB, TB extends keyof DB, O>(
  query: SelectQueryBuilder<DB, TB, O>,
  f: NamedRowFilter,
): SelectQueryBuilder<DB, TB, O> {
  const conditions = [
    sql<SqlBool>`subscription_id = ${f.subscriptionId}`,
    f.live === false ? undefined : sql<SqlBool>`deleted_at is null`,
    f.resourceGroup === undefined ? undefined : sql<SqlBool>`resource_group_key = ${f.resourceGroup.toLowerCase()}`,
    f.type === undefined ? undefined : sql<SqlBool>`type_key = ${f.type.toLowerCase()}`,
    f.name === undefined ? undefined : sql<SqlBool>`name_key = ${f.name.toLowerCase()}`,
    f.location === undefined ? undefined : sql<SqlBool>`lower(location) = ${f.location.toLowerCase()}`,
  ];
  let q = query;
  for (const c of conditions) if (c !== undefined) q = q.where(c);
  return q;
}

/** A typed list's order (group, name): unique among a type's live rows (each table's `*_live` index). */
export const NAMED_ROW_ORDER = keyset(
  'namedResources',
  [
    ['resource_group_key', 'text'],
    ['name_key', 'text'],
  ],
  (r: { resource_group_key: string; name_key: string }) => [r.resource_group_key, r.name_key],
);

/** ARM's generic resource list's order (group, type, name), the same over every table it reads. */
export const ANY_TYPE_ORDER = keyset(
  'resources',
  [
    ['resource_group_key', 'text'],
    ['type_key', 'text'],
    ['name_key', 'text'],
  ],
  (r: { id: string; type: string; name: string }) =>
    [r.id.split('/')[4] ?? '', r.type, r.name].map((s) => s.toLowerCase()),
);
