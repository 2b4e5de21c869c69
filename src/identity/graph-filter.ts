import { graphError } from '../core/errors.ts';

// The few OData `$filter` forms the directory API reads, as clients send them: `prop eq 'v'`,
// `startswith(prop,'v')`, `coll/any(x:x eq 'v')`, joined by `and`. Anything else is refused with
// Graph's own answer rather than read loosely.

export type FilterOperator = 'eq' | 'startsWith' | 'anyEq';

export interface FilterClause {
  property: string;
  op: FilterOperator;
  value: string;
}

/** Which properties take which operator, by their Graph names. */
export type FilterableProperties = Record<FilterOperator, readonly string[]>;

// An OData string literal: single quotes, a quote inside doubled.
const STRING = `'((?:[^']|'')*)'`;
const FORMS: Array<{ op: FilterOperator; re: RegExp; property: number; value: number }> = [
  { op: 'eq', re: new RegExp(`^([A-Za-z]+)\\s+eq\\s+${STRING}`), property: 1, value: 2 },
  {
    op: 'startsWith',
    re: new RegExp(`^startswith\\(\\s*([A-Za-z]+)\\s*,\\s*${STRING}\\s*\\)`, 'i'),
    property: 1,
    value: 2,
  },
  {
    op: 'anyEq',
    re: new RegExp(`^([A-Za-z]+)/any\\(\\s*(\\w+)\\s*:\\s*\\2\\s+eq\\s+${STRING}\\s*\\)`, 'i'),
    property: 1,
    value: 3,
  },
];

const unsupported = (filter: string) =>
  graphError('Request_UnsupportedQuery', `Unsupported or invalid query filter clause specified: '${filter}'.`);

/** The clauses of `filter` (none if absent); a form or property it does not take is a 400. */
export function parseGraphFilter(filter: string | undefined, allowed: FilterableProperties): FilterClause[] {
  if (filter === undefined || filter.trim() === '') return [];
  const clauses: FilterClause[] = [];
  let rest = filter.trim();
  for (;;) {
    const form = FORMS.map((f) => ({ f, m: f.re.exec(rest) })).find((x) => x.m);
    if (!form?.m) throw unsupported(filter);
    const named = form.m[form.f.property].toLowerCase();
    const property = allowed[form.f.op].find((p) => p.toLowerCase() === named);
    if (!property) throw unsupported(filter);
    clauses.push({ property, op: form.f.op, value: form.m[form.f.value].replace(/''/g, "'") });
    rest = rest.slice(form.m[0].length);
    if (rest.trim() === '') return clauses;
    const and = /^\s+and\s+/i.exec(rest);
    if (!and) throw unsupported(filter);
    rest = rest.slice(and[0].length);
  }
}
