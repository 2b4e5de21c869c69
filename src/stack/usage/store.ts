import { type Kysely, sql } from 'kysely';
import type { Granularity, UsageAggregateRow } from '../../core/usage-api.ts';
import type { ResourcesTables } from '../resources/tables.ts';

// The usage APIs read closed records by the time they were reported, aggregated per usage hour or
// day, per subscription, meter and (with details) resource.
export type UsageDb = Kysely<ResourcesTables>;

export const usageStore = {
  async aggregates(
    db: UsageDb,
    q: { start: Date; end: Date; granularity: Granularity; showDetails: boolean; subscriptionId?: string },
    offset: number,
    limit: number,
  ): Promise<UsageAggregateRow[]> {
    const bucket =
      q.granularity === 'Hourly' ? sql`hour` : sql`date_trunc('day', hour at time zone 'UTC') at time zone 'UTC'`;
    const details = q.showDetails;
    const result = await sql<UsageAggregateRow>`
      select subscription_id::text as subscription_id, meter_id::text as meter_id, ${bucket} as bucket, sum(quantity)::text as quantity,
             ${details ? sql`resource_uri, min(location) as location, (array_agg(tags order by reported_at desc))[1] as tags` : sql`null::text as resource_uri, null::text as location, null::jsonb as tags`},
             ${details ? sql`jsonb_build_object('SubscriptionId', subscription_id::text)` : sql`null::jsonb`} as additional_info
      from usage_records
      where reported_at >= ${q.start}::timestamptz and reported_at < ${q.end}::timestamptz
        ${q.subscriptionId ? sql`and subscription_id = ${q.subscriptionId}::uuid` : sql``}
      group by subscription_id, meter_id, ${bucket} ${details ? sql`, resource_uri` : sql``}
      having sum(quantity) <> 0
      order by bucket, subscription_id, meter_id ${details ? sql`, resource_uri` : sql``}
      offset ${offset} limit ${limit}
    `.execute(db);
    return result.rows;
  },
};
