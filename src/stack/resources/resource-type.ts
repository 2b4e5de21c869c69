import type { MeterRates } from '../metering/rules.ts';
import type { ResourcesDb } from './store.ts';
import type { ResourcesTable } from './tables.ts';

// One resource type of a tenant resource provider: what its requests may say, what it counts
// toward quotas, what it meters and how it is shown. The lifecycle every type shares (create,
// update, delete, change, list; telling metering what changed) is service.ts's; a new type is one
// module in types/ that implements this, added to types/index.ts.

/** What a PUT gives a resource: its stored properties, sku and kind. */
export interface AcceptedResource {
  properties: ResourcesTable['properties'];
  sku: ResourcesTable['sku'];
  kind: string | null;
}

/** A PUT's body as the routes hand it on (location and tags are checked by the lifecycle). */
export interface ResourceBody {
  name?: string;
  location?: unknown;
  tags?: Record<string, string>;
  sku?: unknown;
  kind?: unknown;
  properties?: unknown;
}

export type ResourceState = Pick<ResourcesTable, 'properties' | 'sku' | 'kind'>;

export interface ResourceType {
  /** ARM's resource type, `Namespace/type`. */
  type: string;
  namespace: string;
  /** The admin provider whose quotas (in the subscription's plans) limit it. */
  quotaProvider: string;
  /** The api-versions its routes take. */
  apiVersions: readonly string[];
  /** Validates a PUT's body against what exists (if anything): answers what is stored, or throws the ARM error. */
  accept(body: ResourceBody, existing: ResourcesTable | undefined, db: ResourcesDb): Promise<AcceptedResource>;
  /** Name rules of the type, beyond ARM's (a storage account's name is unique on the deployment). */
  validateName?(name: string, db: ResourcesDb, existing: ResourcesTable | undefined): Promise<void>;
  /** Quota checks before a new or changed resource is written: `live` are the subscription's resources of the type. */
  checkQuota(
    limits: Record<string, number>,
    live: ResourcesTable[],
    next: Pick<ResourcesTable, 'properties'>,
    existing: ResourcesTable | undefined,
  ): void;
  /** What it meters in a state, in its own right (its subscription's state is metering's to apply). */
  meterState(r: ResourceState): MeterRates;
  /** What the provider shows of it after its id, name, type, location and tags (default: sku and properties as stored). */
  view?(r: ResourcesTable): Record<string, unknown>;
}
