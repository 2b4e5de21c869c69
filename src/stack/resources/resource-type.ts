import type { Sealer } from '../../core/sealed.ts';
import type { MeterRates } from '../metering/rules.ts';
import type { ResourceRef } from './service.ts';
import type { ResourcesDb } from './store.ts';
import type { QuotaUsage, ResourcesTable } from './tables.ts';

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

/**
 * What a type's hooks may do in the transaction of a write or delete (service.ts gives it): read,
 * create, change and remove other resources of the subscription, each through the lifecycle, so
 * that quotas hold and metering hears of it.
 */
export interface WriteScope {
  /** The ARM id of the resource being written or deleted, and where it is. */
  selfId: string;
  ref: ResourceRef;
  location: string;
  sealer: Sealer;
  /** Set when a whole resource group goes, with its resources: that group. */
  groupGoing?: string;
  /** A live resource of the type by its ARM id, in this subscription. */
  find(t: ResourceType, id: string): Promise<ResourcesTable | undefined>;
  /** Creates (or updates) a resource of the type in this resource group, as a PUT would. */
  create(t: ResourceType, name: string, body: ResourceBody): Promise<ResourcesTable>;
  /** Changes a live resource's properties; what it meters follows. */
  change(
    t: ResourceType,
    row: ResourcesTable,
    properties: ResourcesTable['properties'],
    reason: string,
  ): Promise<ResourcesTable>;
  /** Deletes a live resource: it meters nothing from now on. */
  remove(row: ResourcesTable, reason: string): Promise<void>;
}

/** How a provider answers a create and a delete. */
export interface Answers {
  /** A new resource's status: 201 (with the long-running operation's headers) or 200 (done). */
  created: 200 | 201;
  /** A deleted resource's status: 202 (with `Location`) or 200 (done). */
  deleted: 200 | 202;
}

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
  /** What a live resource of the type counts toward its subscription's quotas (counter → amount). */
  quotaUsage(r: Pick<ResourcesTable, 'properties' | 'sku'>): QuotaUsage;
  /**
   * Quota checks before a new or changed resource is written: `others` is what the subscription's
   * other live resources count (its counters, less what `existing` counted).
   */
  checkQuota(
    limits: Record<string, number>,
    others: QuotaUsage,
    next: Pick<ResourcesTable, 'properties' | 'sku'>,
    existing: ResourcesTable | undefined,
  ): void;
  /**
   * What a write does beyond its own row, after its quota check, in its transaction (the disks a VM
   * creates, attaches and detaches; a storage account's keys): answers what is stored.
   */
  settle?(
    accepted: AcceptedResource,
    existing: ResourcesTable | undefined,
    body: ResourceBody,
    scope: WriteScope,
  ): Promise<AcceptedResource>;
  /** Before the resource is deleted, in the delete's transaction: refuses (an attached disk) or lets go of what it holds. */
  release?(row: ResourcesTable, scope: WriteScope): Promise<void>;
  /** How its provider answers (default: 201 and 202, with the long-running operation's headers). */
  answers?: Answers;
  /** What it meters in a state, in its own right (its subscription's state is metering's to apply). */
  meterState(r: ResourceState): MeterRates;
  /** What the provider shows of it after its id, name, type, location and tags (default: sku and properties as stored). */
  view?(r: ResourcesTable): Record<string, unknown>;
}
