import { DAY_MS, HOUR_MS, parseInstant } from './clock.ts';
import { keptByArgument, keptForLast } from './kept.ts';
import { armError } from './errors.ts';
import { JsonText, jsonInString, jsonString } from './json-text.ts';

// The rules of the usage APIs (the stack's tenant and provider APIs, the hub's commerce API):
// reported-time windows on hour or midnight boundaries, the granularity, the record shape.
// Pure functions, shared by both roles.

export type Granularity = 'Hourly' | 'Daily';
/** How long an aggregate of each granularity is. */
export const GRANULARITY_MS: Record<Granularity, number> = { Hourly: HOUR_MS, Daily: DAY_MS };

export interface UsageQuery {
  start: Date;
  end: Date;
  granularity: Granularity;
  showDetails: boolean;
}

export const USAGE_PAGE_SIZE = 1000;

/**
 * Records a usage page without details reads, at most, beyond its last group: each of its groups
 * sums a bucket's records of one meter over every resource, so that 1,000 groups could be every
 * record of a subscription (27 s on the hub at 50M records). Such a page ends at the group of its
 * `USAGE_PAGE_RECORDS`th record (that group whole), before its 1,000 groups.
 */
export const USAGE_PAGE_RECORDS = 250_000;

export const usageErrors = {
  invalidProperty: (name: string, message: string) => armError('InvalidProperty', message, name),
  endInFuture: (end: string, now: Date) =>
    armError(
      'RequestEndTimeIsInFuture',
      `The reportedEndTime '${end}' is later than the current time ${now.toISOString()}; usage after it has not been processed.`,
      'reportedEndTime',
    ),
  granularity: (given: string) =>
    armError(
      'InvalidAggregationGranularity',
      `The aggregationGranularity '${given}' is not valid; use 'Daily' or 'Hourly'.`,
      'aggregationGranularity',
    ),
  notDirectTenant: (id: string) =>
    armError(
      'SubscriberIdIsNotDirectTenant',
      `The subscriberId '${id}' is not a subscription of a direct tenant of this deployment.`,
      'subscriberId',
    ),
  badContinuation: () => armError('InvalidProperty', 'The continuationToken is not valid.', 'continuationToken'),
};

function parseTime(name: string, value: string | undefined): Date {
  if (value === undefined || value === '')
    throw usageErrors.invalidProperty(
      name,
      `The query parameter '${name}' is required: a UTC time on the hour (Hourly) or at midnight (Daily).`,
    );
  // A date-time with its offset, strictly: no day that does not exist.
  const t = /T.*(Z|[+-]\d{2}:\d{2})$/.test(value) ? parseInstant(value) : undefined;
  if (t === undefined)
    throw usageErrors.invalidProperty(
      name,
      `The value '${value}' of '${name}' is not a date-time such as 2026-01-01T00:00:00Z.`,
    );
  return t;
}

export function parseUsageQuery(q: (name: string) => string | undefined, now: Date): UsageQuery {
  const rawGranularity = q('aggregationGranularity');
  let granularity: Granularity = 'Daily';
  if (rawGranularity !== undefined && rawGranularity !== '') {
    const g = rawGranularity.toLowerCase();
    if (g !== 'daily' && g !== 'hourly') throw usageErrors.granularity(rawGranularity);
    granularity = g === 'hourly' ? 'Hourly' : 'Daily';
  }
  const start = parseTime('reportedStartTime', q('reportedStartTime'));
  const end = parseTime('reportedEndTime', q('reportedEndTime'));
  const unit = GRANULARITY_MS[granularity];
  for (const [name, t] of [
    ['reportedStartTime', start],
    ['reportedEndTime', end],
  ] as const) {
    if (t.getTime() % unit !== 0) {
      throw usageErrors.invalidProperty(
        name,
        `The '${name}' must be ${granularity === 'Hourly' ? 'on the hour' : 'at UTC midnight'} for ${granularity} aggregation; '${q(name)}' is not.`,
      );
    }
  }
  if (end.getTime() <= start.getTime())
    throw usageErrors.invalidProperty(
      'reportedEndTime',
      'The reportedEndTime must be later than the reportedStartTime.',
    );
  if (end.getTime() > now.getTime()) throw usageErrors.endInFuture(q('reportedEndTime')!, now);
  const details = q('showDetails');
  return { start, end, granularity, showDetails: details === undefined || details.toLowerCase() !== 'false' };
}

/** A time formatted as the vendor's examples are (kept: a page's thousand aggregates share a few hours). */
const formattedTime = keptByArgument((ms: number) => `${new Date(ms).toISOString().slice(0, -5)}+00:00`, 4096);

/** Times in the shape of the vendor's examples: 2015-03-03T00:00:00+00:00. */
export const usageTime = (t: Date): string => formattedTime(t.getTime());

export interface UsageAggregateRow {
  subscription_id: string;
  meter_id: string;
  bucket: Date;
  quantity: string;
  resource_uri: string | null;
  location: string | null;
  tags: Record<string, string> | null;
  additional_info: Record<string, unknown> | null;
}

/**
 * One usage aggregate: `Microsoft.Commerce/UsageAggregate` (tenant) or
 * `Microsoft.Commerce.Admin/UsageAggregate` (provider), as its JSON text: the bytes
 * `JSON.stringify` makes of the vendor's shape (`id`, `name`, `type`, `properties` with
 * `instanceData`, itself JSON in a string), written out (see core/json-text.ts).
 */
export function usageAggregateJson(
  row: UsageAggregateRow,
  granularity: Granularity,
  provider: 'Microsoft.Commerce' | 'Microsoft.Commerce.Admin',
): JsonText {
  const { head, tail } = aggregateEnds(provider, row.subscription_id, row.meter_id);
  const instanceData =
    row.resource_uri === null
      ? ''
      : `"instanceData":"{\\"Microsoft.Resources\\":{\\"resourceUri\\":${jsonInString(row.resource_uri)},\\"location\\":${jsonInString(row.location)},\\"tags\\":${jsonInString(row.tags ?? {})},\\"additionalInfo\\":${jsonInString(row.additional_info ?? {})}}}",`;
  return new JsonText(
    `${head}${aggregateTimes(row.bucket.getTime(), granularity)}${instanceData}"quantity":${JSON.stringify(Number(row.quantity))}${tail}`,
  );
}

// A page's aggregates share their subscription, a few meters and runs of one hour: the text those
// decide is made once and kept (for the last asked), not written again for each aggregate. Fewer,
// longer pieces also make the page's text cheaper to flatten into bytes.

/** An aggregate's text before its start time's value, and after its quantity. */
const aggregateEnds = keptForLast((provider: string, subscriptionId: string, meterId: string) => {
  const subscription = jsonString(subscriptionId).slice(1, -1);
  const meter = jsonString(meterId);
  const name = `${subscription}-${meter.slice(1, -1)}`;
  const head =
    `{"id":"/subscriptions/${subscription}/providers/${provider}/UsageAggregate/${name}","name":"${name}","type":"${provider}/UsageAggregate",` +
    `"properties":{"subscriptionId":"${subscription}",`;
  return { head, tail: `,"meterId":${meter}}}` };
});

/** An aggregate's start and end times, as their JSON members. */
const aggregateTimes = keptForLast(
  (ms: number, granularity: Granularity) =>
    `"usageStartTime":"${formattedTime(ms)}","usageEndTime":"${formattedTime(ms + GRANULARITY_MS[granularity])}",`,
);
