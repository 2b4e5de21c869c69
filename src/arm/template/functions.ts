import { createHash } from 'node:crypto';
import { TemplateError } from './parse.ts';

// The template functions (ARM's names, compared case-insensitively), each a plain function of its
// evaluated arguments and the deployment's scope. `if` is lazy and lives in the evaluator;
// `reference` asks the scope, which the runner fills with what it deployed or read.

export interface TemplateScope {
  subscriptionId: string;
  tenantId: string;
  resourceGroup: { name: string; location: string };
  deploymentName: string;
  parameter(name: string): unknown;
  variable(name: string): unknown;
  /** The current index of each copy loop being expanded, by loop name (lower case); `''` is the resource's own loop. */
  copyIndexes: Readonly<Record<string, number>>;
  /** What evaluation may still do (JSON nodes evaluated), shared by the whole deployment: copy loops nested in copy loops cannot run away. */
  work: { left: number };
  /** A resource's state (its properties, or all of it with `full`); absent while planning. */
  reference?(target: string, apiVersion: string | undefined, full: boolean): unknown;
}

type Fn = (args: unknown[], scope: TemplateScope) => unknown;

const typeName = (v: unknown): string =>
  v === null
    ? 'Null'
    : Array.isArray(v)
      ? 'Array'
      : typeof v === 'string'
        ? 'String'
        : typeof v === 'number'
          ? 'Integer'
          : typeof v === 'boolean'
            ? 'Boolean'
            : 'Object';

const argError = (fn: string, message: string) =>
  new TemplateError(`The template language function '${fn}' ${message}`);

function arity(fn: string, args: unknown[], min: number, max = min): void {
  if (args.length < min || args.length > max)
    throw argError(
      fn,
      `expects ${min === max ? `exactly ${min}` : max === Infinity ? `at least ${min}` : `from ${min} to ${max}`} parameter(s), but got ${args.length}.`,
    );
}

function str(fn: string, v: unknown): string {
  if (typeof v !== 'string') throw argError(fn, `expects a String but got a value of type '${typeName(v)}'.`);
  return v;
}
function int(fn: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v))
    throw argError(fn, `expects an Integer but got a value of type '${typeName(v)}'.`);
  return v;
}
function bool(fn: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw argError(fn, `expects a Boolean but got a value of type '${typeName(v)}'.`);
  return v;
}
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values (strings compare exactly, as ARM's `equals` does). */
export function jsonEquals(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEquals(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEquals(a[k], b[k]));
  }
  return a === b;
}

const display = (v: unknown): string =>
  typeof v === 'string' ? v : typeof v === 'boolean' ? (v ? 'True' : 'False') : JSON.stringify(v);

/** A value as text for concat and format: strings as they are, everything else as JSON (booleans as .NET writes them). */
const text = display;

// ---- resource ids --------------------------------------------------------------------------------

/** `resourceId([subscriptionId], [resourceGroupName], resourceType, name1, [name2]...)`. */
export function resourceIdOf(args: unknown[], scope: TemplateScope, fn = 'resourceId'): string {
  const texts = args.map((a) => str(fn, a));
  const at = texts.findIndex((a) => a.includes('/'));
  if (at < 0 || at > 2) throw argError(fn, "expects a resource type such as 'Microsoft.Compute/virtualMachines'.");
  const [namespace, ...types] = texts[at].split('/').filter((s) => s !== '');
  const names = texts.slice(at + 1).flatMap((n) => n.split('/'));
  if (types.length === 0 || names.length !== types.length)
    throw argError(
      fn,
      `expects ${types.length} resource name(s) for the type '${texts[at]}', but got ${names.length}.`,
    );
  const subscriptionId = at === 2 ? texts[0] : scope.subscriptionId;
  const group = at === 2 ? texts[1] : at === 1 ? texts[0] : scope.resourceGroup.name;
  const path = types.map((t, i) => `${t}/${names[i]}`).join('/');
  if (fn === 'subscriptionResourceId') return `/subscriptions/${subscriptionId}/providers/${namespace}/${path}`;
  return `/subscriptions/${subscriptionId}/resourceGroups/${group}/providers/${namespace}/${path}`;
}

// ---- uniqueString and guid -----------------------------------------------------------------------

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A deterministic 13-character lower-case text from the arguments. ARM uses a 64-bit murmur hash in
 * base32; this is the first 65 bits of SHA-256 of the arguments joined by '-', in the same alphabet,
 * so it is stable and of the same shape, though not the same value as Azure's.
 */
export function uniqueString(parts: string[]): string {
  const digest = createHash('sha256').update(parts.join('-')).digest();
  let bits = 0n;
  for (let i = 0; i < 9; i++) bits = (bits << 8n) | BigInt(digest[i]);
  bits >>= 7n; // 72 bits → 65
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = BASE32[Number(bits & 31n)] + out;
    bits >>= 5n;
  }
  return out;
}

/** A deterministic name-based (version 5, SHA-1) GUID of the arguments joined by '-', as `guid` answers. */
export function nameGuid(parts: string[]): string {
  // A fixed namespace, so that the same arguments give the same GUID in every deployment.
  const namespace = Buffer.from('11fb06fb712d4ddd98c7e71bbd588830', 'hex');
  const hash = createHash('sha1')
    .update(namespace)
    .update(Buffer.from(parts.join('-'), 'utf16le'))
    .digest();
  const b = hash.subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x50;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** .NET composite formatting, as `format` does: `{0}`, `{1}`, and `{{`/`}}` for braces. */
export function formatText(fmt: string, args: unknown[]): string {
  return fmt.replace(/\{\{|\}\}|\{(\d+)(?:[,:][^}]*)?\}/g, (m, n: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    const i = Number(n);
    if (i >= args.length) throw argError('format', `refers to argument ${i}, but got ${args.length} argument(s).`);
    return text(args[i]);
  });
}

// ---- the table ----------------------------------------------------------------------------------

function compare(fn: string, args: unknown[]): number {
  arity(fn, args, 2);
  const [a, b] = args;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return a < b ? -1 : a > b ? 1 : 0;
  throw argError(fn, 'expects two Integers or two Strings.');
}

function arithmetic(fn: string, op: (a: number, b: number) => number): Fn {
  return (args) => {
    arity(fn, args, 2);
    return op(int(fn, args[0]), int(fn, args[1]));
  };
}

function collection(fn: string, v: unknown): unknown[] | string {
  if (typeof v === 'string' || Array.isArray(v)) return v;
  throw argError(fn, `expects an Array or a String but got a value of type '${typeName(v)}'.`);
}

/** A function that first checks how many arguments it was given. */
const checked =
  (name: string, min: number, max: number, impl: Fn): Fn =>
  (args, scope) => {
    arity(name, args, min, max);
    return impl(args, scope);
  };

export const FUNCTIONS: Record<string, Fn> = {
  parameters: checked('parameters', 1, 1, (args, scope) => scope.parameter(str('parameters', args[0]))),
  variables: checked('variables', 1, 1, (args, scope) => scope.variable(str('variables', args[0]))),
  resourceid: checked('resourceId', 2, Infinity, (args, scope) => resourceIdOf(args, scope)),
  subscriptionresourceid: checked('subscriptionResourceId', 2, Infinity, (args, scope) =>
    resourceIdOf(
      args.length > 0 && !String(args[0]).includes('/') ? ['', ...args] : args,
      scope,
      'subscriptionResourceId',
    ),
  ),
  resourcegroup: (args, scope) => {
    arity('resourceGroup', args, 0);
    return {
      id: `/subscriptions/${scope.subscriptionId}/resourceGroups/${scope.resourceGroup.name}`,
      name: scope.resourceGroup.name,
      type: 'Microsoft.Resources/resourceGroups',
      location: scope.resourceGroup.location,
      properties: { provisioningState: 'Succeeded' },
    };
  },
  subscription: (args, scope) => {
    arity('subscription', args, 0);
    return {
      id: `/subscriptions/${scope.subscriptionId}`,
      subscriptionId: scope.subscriptionId,
      tenantId: scope.tenantId,
    };
  },
  deployment: checked('deployment', 0, 0, (_args, scope) => ({ name: scope.deploymentName, properties: {} })),
  concat: (args) => {
    if (args.length > 0 && args.every(Array.isArray)) return (args as unknown[][]).flat(1);
    if (args.some(Array.isArray)) throw argError('concat', 'expects either all Arrays or no Arrays.');
    return args.map(text).join('');
  },
  format: checked('format', 1, Infinity, (args) => formatText(str('format', args[0]), args.slice(1))),
  uniquestring: checked('uniqueString', 1, Infinity, (args) => uniqueString(args.map((a) => str('uniqueString', a)))),
  guid: checked('guid', 1, Infinity, (args) => nameGuid(args.map((a) => str('guid', a)))),
  tolower: checked('toLower', 1, 1, (args) => str('toLower', args[0]).toLowerCase()),
  toupper: checked('toUpper', 1, 1, (args) => str('toUpper', args[0]).toUpperCase()),
  trim: checked('trim', 1, 1, (args) => str('trim', args[0]).trim()),
  string: checked('string', 1, 1, (args) => text(args[0])),
  int: (args) => {
    arity('int', args, 1);
    const n = typeof args[0] === 'string' && /^-?\d+$/.test(args[0]) ? Number(args[0]) : args[0];
    return int('int', n);
  },
  bool: (args) => {
    arity('bool', args, 1);
    const v = args[0];
    if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
    if (typeof v === 'number') return v !== 0;
    return bool('bool', v);
  },
  json: (args) => {
    arity('json', args, 1);
    try {
      return JSON.parse(str('json', args[0]));
    } catch {
      throw argError('json', 'expects a String holding valid JSON.');
    }
  },
  true: checked('true', 0, 0, () => true),
  false: checked('false', 0, 0, () => false),
  null: checked('null', 0, 0, () => null),
  equals: checked('equals', 2, 2, (args) => jsonEquals(args[0], args[1])),
  not: checked('not', 1, 1, (args) => !bool('not', args[0])),
  and: checked('and', 2, Infinity, (args) => args.every((a) => bool('and', a))),
  or: checked('or', 2, Infinity, (args) => args.map((a) => bool('or', a)).some((a) => a)),
  less: (args) => compare('less', args) < 0,
  lessorequals: (args) => compare('lessOrEquals', args) <= 0,
  greater: (args) => compare('greater', args) > 0,
  greaterorequals: (args) => compare('greaterOrEquals', args) >= 0,
  add: arithmetic('add', (a, b) => a + b),
  sub: arithmetic('sub', (a, b) => a - b),
  mul: arithmetic('mul', (a, b) => a * b),
  div: arithmetic('div', (a, b) => {
    if (b === 0) throw argError('div', 'cannot divide by zero.');
    return Math.trunc(a / b);
  }),
  mod: arithmetic('mod', (a, b) => {
    if (b === 0) throw argError('mod', 'cannot divide by zero.');
    return a % b;
  }),
  min: (args) => Math.min(...(args.length === 1 && Array.isArray(args[0]) ? args[0] : args).map((a) => int('min', a))),
  max: (args) => Math.max(...(args.length === 1 && Array.isArray(args[0]) ? args[0] : args).map((a) => int('max', a))),
  length: (args) => {
    arity('length', args, 1);
    const v = args[0];
    if (isObject(v)) return Object.keys(v).length;
    return collection('length', v).length;
  },
  empty: (args) => {
    arity('empty', args, 1);
    const v = args[0];
    return v === null || (isObject(v) ? Object.keys(v).length === 0 : collection('empty', v).length === 0);
  },
  contains: (args) => {
    arity('contains', args, 2);
    const [c, x] = args;
    if (typeof c === 'string') return c.includes(text(x));
    if (Array.isArray(c)) return c.some((e) => jsonEquals(e, x));
    if (isObject(c)) return Object.keys(c).some((k) => k.toLowerCase() === str('contains', x).toLowerCase());
    throw argError('contains', 'expects an Array, an Object or a String.');
  },
  first: checked('first', 1, 1, (args) => collection('first', args[0])[0] ?? null),
  last: (args) => {
    arity('last', args, 1);
    const c = collection('last', args[0]);
    return c[c.length - 1] ?? null;
  },
  take: checked('take', 2, 2, (args) => collection('take', args[0]).slice(0, Math.max(0, int('take', args[1])))),
  skip: checked('skip', 2, 2, (args) => collection('skip', args[0]).slice(Math.max(0, int('skip', args[1])))),
  createarray: (args) => args,
  array: checked('array', 1, 1, (args) => (Array.isArray(args[0]) ? args[0] : [args[0]])),
  createobject: (args) => {
    if (args.length % 2 !== 0) throw argError('createObject', 'expects pairs of a name and a value.');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < args.length; i += 2)
      Object.defineProperty(out, str('createObject', args[i]), {
        value: args[i + 1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return out;
  },
  union: (args) => {
    arity('union', args, 1, Infinity);
    if (args.every(Array.isArray)) {
      const out: unknown[] = [];
      for (const x of (args as unknown[][]).flat(1)) if (!out.some((y) => jsonEquals(x, y))) out.push(x);
      return out;
    }
    if (args.every(isObject)) return Object.assign({}, ...args);
    throw argError('union', 'expects either all Arrays or all Objects.');
  },
  coalesce: (args) => args.find((a) => a !== null) ?? null,
  range: (args) => {
    arity('range', args, 2);
    const start = int('range', args[0]);
    const count = int('range', args[1]);
    if (count < 0 || count > 10_000) throw argError('range', 'expects a count from 0 to 10000.');
    return Array.from({ length: count }, (_, i) => start + i);
  },
  replace: checked('replace', 3, 3, (args) =>
    str('replace', args[0]).replaceAll(str('replace', args[1]), str('replace', args[2])),
  ),
  split: (args) => {
    arity('split', args, 2);
    const s = str('split', args[0]);
    const seps = Array.isArray(args[1]) ? args[1].map((d) => str('split', d)) : [str('split', args[1])];
    return seps.reduce<string[]>((parts, d) => parts.flatMap((p) => p.split(d)), [s]);
  },
  substring: (args) => {
    arity('substring', args, 1, 3);
    const s = str('substring', args[0]);
    const start = args.length > 1 ? int('substring', args[1]) : 0;
    const length = args.length > 2 ? int('substring', args[2]) : s.length - start;
    if (start < 0 || length < 0 || start + length > s.length)
      throw argError('substring', `has an index or length outside the text of ${s.length} characters.`);
    return s.substring(start, start + length);
  },
  startswith: checked('startsWith', 2, 2, (args) =>
    str('startsWith', args[0]).toLowerCase().startsWith(str('startsWith', args[1]).toLowerCase()),
  ),
  endswith: checked('endsWith', 2, 2, (args) =>
    str('endsWith', args[0]).toLowerCase().endsWith(str('endsWith', args[1]).toLowerCase()),
  ),
  indexof: checked('indexOf', 2, 2, (args) =>
    str('indexOf', args[0]).toLowerCase().indexOf(str('indexOf', args[1]).toLowerCase()),
  ),
  padleft: (args) => {
    arity('padLeft', args, 2, 3);
    const pad = args.length > 2 ? str('padLeft', args[2]) : ' ';
    return text(args[0]).padStart(Math.min(int('padLeft', args[1]), 16_000), pad.slice(0, 1) || ' ');
  },
  base64: checked('base64', 1, 1, (args) => Buffer.from(str('base64', args[0]), 'utf8').toString('base64')),
  base64tostring: checked('base64ToString', 1, 1, (args) =>
    Buffer.from(str('base64ToString', args[0]), 'base64').toString('utf8'),
  ),
  copyindex: (args, scope) => {
    arity('copyIndex', args, 0, 2);
    const loop = typeof args[0] === 'string' ? args[0].toLowerCase() : '';
    const offset = typeof args[0] === 'string' ? args[1] : args[0];
    if (typeof args[0] !== 'string' && args.length > 1) throw argError('copyIndex', 'expects a loop name first.');
    const index = scope.copyIndexes[loop];
    if (index === undefined)
      throw new TemplateError(
        loop
          ? `The template function 'copyIndex' refers to the copy loop '${args[0]}', which is not being expanded here.`
          : "The template function 'copyIndex' is not expected at this location: it is only valid within a copy loop.",
      );
    return index + (offset === undefined ? 0 : int('copyIndex', offset));
  },
  reference: (args, scope) => {
    arity('reference', args, 1, 3);
    const target = str('reference', args[0]);
    const apiVersion = args.length > 1 ? str('reference', args[1]) : undefined;
    const full = args.length > 2 && str('reference', args[2]).toLowerCase() === 'full';
    if (!scope.reference)
      throw new TemplateError("The template function 'reference' is not expected at this location.");
    return scope.reference(target, apiVersion, full);
  },
};

/** Whether the engine knows the function (the lazy `if` included). */
export const isKnownFunction = (name: string): boolean =>
  name.toLowerCase() === 'if' || Object.hasOwn(FUNCTIONS, name.toLowerCase());
