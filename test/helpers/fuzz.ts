// Generators of bad input for the fuzz test: texts a handler should refuse (NUL, unpaired
// surrogates, days that do not exist, ids that are not GUIDs, SQL), deep and odd JSON, and the
// way each goes on the wire.
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';

/** Texts that have made handlers fail before, or that a careless one would pass to SQL as they are. */
export const BAD_TEXTS = [
  '\0',
  'a\0b',
  '\uD800',
  'x\uDFFFy',
  '2026-02-30',
  '2026-02-30T00:00:00Z',
  '2026-13-01',
  '2026-04-31T25:61:00Z',
  '0000-00-00',
  '9999-12-31T23:59:59.999999999Z',
  "' OR 1=1--",
  '00000000-0000-0000-0000-00000000000g',
  '{00000000-0000-0000-0000-000000000000}',
  '-1',
  '0',
  '1e309',
  '99999999999999999999999999',
  'NaN',
  '',
  ' ',
  '..',
  '%',
  'null',
  '[]',
  'ü𝔘',
  'a'.repeat(520),
  'P99999Y',
  '<script>',
];

const badText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...BAD_TEXTS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 6 }), fc.constantFrom('\0', '\uD800', '\uDC00'), fc.string({ maxLength: 6 }))
      .map((p) => p.join('')),
  },
);

const FIELD_NAMES = [
  'location',
  'properties',
  'tags',
  'displayName',
  'domainPrefix',
  'companyProfile',
  'domain',
  'companyName',
  'lineItems',
  'offerId',
  'quantity',
  'effectiveFrom',
  'meterId',
  'tiers',
  'unitPrice',
  'percent',
  'markupPercent',
  'scope',
  'customerId',
  'principalId',
  'roleDefinitionId',
  'userPrincipalName',
  'passwordProfile',
  'password',
  'accountEnabled',
  'mailNickname',
  'invitedUserEmailAddress',
  'inviteRedirectUrl',
  'appId',
  'tenantId',
  'state',
  'owner',
  'period',
  'at',
  'to',
  'duration',
  'status',
  'billingDay',
  'taxRate',
  'amount',
  'reason',
  'format',
  'from',
  'startTime',
  'endTime',
  'name',
  'id',
  'sku',
  'quotas',
  'baseQuotas',
  'addonPlans',
  'basePlanIds',
  'registrationToken',
  'subscriptionId',
  'billingScope',
  'workload',
  'usedCapacityBytes',
  'powerState',
  'events',
  'records',
  'relationshipToPartner',
  'attributes',
  'country',
  'currency',
];

/** A JSON document: near the shapes our routes take, with bad texts and numbers in it. */
export const badJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    badText,
    fc.constantFrom(0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER + 2, true, null),
    fc.array(tie('value'), { maxLength: 3 }),
    tie('object'),
  ),
  object: fc.dictionary(fc.oneof(fc.constantFrom(...FIELD_NAMES), badText), tie('value'), { maxKeys: 5 }),
})).object;

/** A body on the wire: JSON text (with escapes JSON.stringify would not write), or something that is not JSON. */
export const badBody = fc.oneof(
  { weight: 6, arbitrary: badJson.map((v) => ({ type: 'application/json', text: JSON.stringify(v) })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(
        '{"properties":{"a":"\\ud800"}}',
        '{"displayName":"x\\u0000y"}',
        '{"\\u0000":1}',
        '{"location":"local","properties":{"x":"\\udfff"}}',
      )
      .map((text) => ({ type: 'application/json', text })),
  },
  {
    weight: 1,
    arbitrary: fc.constant({
      type: 'application/json',
      text: `{"location":"local","properties":{"quotas":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`,
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('{', 'not json', '"\\x"', '1'.repeat(400))
      .map((text) => ({ type: 'application/json', text })),
  },
  {
    weight: 1,
    arbitrary: badText.map((v) => ({
      type: 'application/x-www-form-urlencoded',
      text: new URLSearchParams({ grant_type: v, client_id: v, username: v, password: v, resource: v }).toString(),
    })),
  },
  { weight: 1, arbitrary: fc.constant({ type: 'text/plain', text: 'hello' }) },
);

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  patternProperties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
};

const PLAUSIBLE_TEXTS = [
  'x',
  'local',
  '2026-01-01',
  '2026-02-01T00:00:00Z',
  'P1D',
  'PayAsYouUse',
  'MS-AZR-0145P',
  'Owner',
  'a@b.c',
  'USD',
  '10',
  'GB',
];

/**
 * A body that follows a route's JSON schema in shape, so that it gets past validation to the
 * handler, with bad texts and numbers at its leaves; `good` offers real ids by property name.
 */
export function fromSchema(schema: Schema, good: Map<string, string[]>, name = ''): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => fromSchema(s, good, name)));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const props = Object.entries(schema.properties ?? {});
      const model = Object.fromEntries(props.map(([k, s]) => [k, fromSchema(s, good, k)]));
      const record = props.length > 0 ? fc.record(model, { requiredKeys: schema.required ?? [] }) : fc.constant({});
      const extra = Object.values(schema.patternProperties ?? {})[0];
      if (!extra && props.length > 0) return record;
      return fc
        .tuple(
          record,
          fc.dictionary(fc.oneof(badText, fc.constantFrom(...FIELD_NAMES)), extra ? fromSchema(extra, good) : badJson, {
            maxKeys: 3,
          }),
        )
        .map(([a, b]) => ({ ...b, ...a }));
    }
    case 'array':
      return fc.array(schema.items ? fromSchema(schema.items, good, name) : badJson, { maxLength: 3 });
    case 'string': {
      const known = good.get(name.toLowerCase()) ?? [];
      return fc.oneof(
        { weight: 2, arbitrary: fc.constantFrom(...known, ...PLAUSIBLE_TEXTS) },
        { weight: 3, arbitrary: badText },
      );
    }
    case 'integer':
    case 'number':
      return fc.constantFrom(0, 1, 28, -1, 0.5, 1e308, -1e308, 2 ** 63, 100_000_000);
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    default:
      return badJson;
  }
}

/** Percent-encodes a text for a URL, unpaired surrogates included (as the bytes their code points would take). */
export function encodeAnything(text: string): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code >= 0xd800 && code <= 0xdfff) {
      out += Buffer.from([0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)])
        .toString('hex')
        .replace(/(..)/g, '%$1')
        .toUpperCase();
    } else out += encodeURIComponent(ch);
  }
  return out;
}

/** Every query parameter name a route reads through `queryValue`, found in the sources, plus the usage APIs'. */
export function queryNamesInSources(srcDir: string): string[] {
  const names = new Set([
    'reportedStartTime',
    'reportedEndTime',
    'aggregationGranularity',
    'showDetails',
    'continuationToken',
    'startTime',
    'endTime',
    'size',
  ]);
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts'))
        for (const m of readFileSync(full, 'utf8').matchAll(/queryValue\(\w+, '([^']+)'\)/g)) names.add(m[1]);
    }
  };
  walk(srcDir);
  names.delete('api-version');
  return [...names];
}

/**
 * Columns that authentication itself stamps, whatever the request: the stack's admission notes when
 * it last saw a directory's consent (once a minute). They are not what a refused write may change.
 */
const BOOKKEEPING: Record<string, string> = { directory_tenants: 'consent_seen_at' };

/** Each client's fingerprint statement, prepared (planning its union of every table cost ten times running it). */
const fingerprintStatements = new WeakMap<pg.Client, { text: string; name: string }>();
let preparedFingerprints = 0;

/**
 * What a database holds, in one cheap value: per table, the row count and the newest row
 * version's transaction id (any committed insert, update or delete changes it); tables with a
 * bookkeeping column, by their rows' contents without it. The tables are listed every time (a
 * partition made meanwhile is read too); the statement is prepared again when they change.
 */
export async function stateFingerprint(client: pg.Client): Promise<string> {
  const { rows: tables } = await client.query<{ schemaname: string; tablename: string }>({
    name: 'state_fingerprint_tables',
    text: `select schemaname, tablename from pg_tables where schemaname not in ('pg_catalog', 'information_schema') order by schemaname, tablename`,
  });
  if (tables.length === 0) return '';
  const id = (s: string) => `"${s.replaceAll('"', '""')}"`;
  const parts = tables.map(({ schemaname, tablename }) => {
    const from = `${id(schemaname)}.${id(tablename)} t`;
    const label = `'${schemaname}.${tablename}'`;
    const skip = BOOKKEEPING[tablename];
    return skip
      ? `select ${label} || ':' || coalesce(md5(string_agg((to_jsonb(t) - '${skip}')::text, ',' order by (to_jsonb(t) - '${skip}')::text)), '-') as v from ${from}`
      : `select ${label} || ':' || count(*) || ':' || coalesce(max(xmin::text::bigint), 0) as v from ${from}`;
  });
  const text = parts.join(' union all ');
  let statement = fingerprintStatements.get(client);
  if (statement?.text !== text) {
    statement = { text, name: `state_fingerprint_${++preparedFingerprints}` };
    fingerprintStatements.set(client, statement);
  }
  const { rows } = await client.query<{ v: string }>(statement);
  return rows.map((r) => r.v).join(' ');
}

/** Texts that only an internal failure would put in a response: SQL errors, stack traces, JavaScript errors. */
export const INTERNAL_TEXT =
  /invalid input syntax|violates|duplicate key|relation "|column "|syntax error at|invalid byte sequence|stack depth|out of range for type|SQLSTATE|\.ts:\d+|node_modules|TypeError|ReferenceError|RangeError|Cannot read prop|is not a function|undefined is not|kysely|postgres(ql)? error/i;
