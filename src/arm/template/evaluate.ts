import { FUNCTIONS, type TemplateScope } from './functions.ts';
import { callsIn, readTemplateString, TemplateError, type Expr } from './parse.ts';
import { isKnownFunction } from './functions.ts';

// Evaluation of expressions and of whole JSON values of a template (strings that are expressions,
// property names that are, and property `copy` loops). Pure: everything outside comes through the scope.

/** A template error that already names where in the template it happened. */
export class LocatedTemplateError extends TemplateError {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const available = (o: Record<string, unknown>) => Object.keys(o).slice(0, 20).join(', ');

function member(target: unknown, name: string): unknown {
  if (!isObject(target))
    throw new TemplateError(
      `The language expression property '${name}' can't be evaluated: the value is not an object.`,
    );
  const key = Object.keys(target).find((k) => k.toLowerCase() === name.toLowerCase());
  if (key === undefined)
    throw new TemplateError(
      `The language expression property '${name}' doesn't exist, available properties are '${available(target)}'.`,
    );
  return target[key];
}

function indexed(target: unknown, index: unknown): unknown {
  if (Array.isArray(target)) {
    if (typeof index !== 'number' || !Number.isInteger(index))
      throw new TemplateError('An array can only be indexed by an Integer.');
    if (index < 0 || index >= target.length)
      throw new TemplateError(`The index '${index}' is out of range of the array of ${target.length} element(s).`);
    return target[index];
  }
  if (isObject(target) && typeof index === 'string') return member(target, index);
  throw new TemplateError('Only an Array (by Integer) or an Object (by String) can be indexed.');
}

export function evaluateExpr(e: Expr, scope: TemplateScope): unknown {
  switch (e.kind) {
    case 'literal':
      return e.value;
    case 'property':
      return member(evaluateExpr(e.target, scope), e.name);
    case 'index':
      return indexed(evaluateExpr(e.target, scope), evaluateExpr(e.index, scope));
    case 'call': {
      const name = e.name.toLowerCase();
      // `if` evaluates only the branch it takes, so the other may refer to what does not exist.
      if (name === 'if') {
        if (e.args.length !== 3)
          throw new TemplateError(
            `The template language function 'if' expects exactly 3 parameter(s), but got ${e.args.length}.`,
          );
        const condition = evaluateExpr(e.args[0], scope);
        if (typeof condition !== 'boolean')
          throw new TemplateError("The template language function 'if' expects its first parameter to be a Boolean.");
        return evaluateExpr(e.args[condition ? 1 : 2], scope);
      }
      if (!Object.hasOwn(FUNCTIONS, name)) throw unknownFunction(e.name, e.at);
      return withinLimits(
        FUNCTIONS[name](
          e.args.map((a) => evaluateExpr(a, scope)),
          scope,
        ),
      );
    }
  }
}

/** The most a value made by expressions may weigh (characters of text plus elements), so that no template exhausts memory. */
export const MAX_VALUE_SIZE = 4 * 1024 * 1024;

/** A function's result, unless it is too large (a value built by doubling a variable, say). Stops counting at the limit. */
function withinLimits(value: unknown): unknown {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    size += typeof v === 'string' ? v.length + 1 : 1;
    if (size > MAX_VALUE_SIZE)
      throw new TemplateError(`The value of an expression is larger than the limit of ${MAX_VALUE_SIZE} characters.`);
    if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (isObject(v))
      for (const [k, x] of Object.entries(v)) {
        size += k.length;
        stack.push(x);
      }
  }
  return value;
}

/** Sets a property even when its name is `__proto__`, which plain assignment would take as the prototype. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function unknownFunction(name: string, at: number): TemplateError {
  return new TemplateError(
    `The template function '${name}' is not valid (at character ${at + 2} of the expression). Please see https://aka.ms/arm-template-expressions for usage details.`,
  );
}

/** Where in the template: `resources[2].properties.osProfile`. */
export const pathOf = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : base ? `${base}.${key}` : key;

export function locate(e: unknown, path: string): unknown {
  if (e instanceof TemplateError && !(e instanceof LocatedTemplateError))
    return new LocatedTemplateError(
      `Unable to process template language expressions at '${path}'. ${e.message}`,
      e.code,
    );
  return e;
}

/** A template string's value: a literal as written (`[[` unescaped), or the expression's result. */
export function evaluateString(s: string, scope: TemplateScope, path: string): unknown {
  try {
    const read = readTemplateString(s);
    return read.kind === 'text' ? read.value : evaluateExpr(read.expr, scope);
  } catch (e) {
    throw locate(e, path);
  }
}

export const MAX_COPY_COUNT = 800;

/** A copy loop's count: an Integer from 0 to 800, as ARM allows. */
export function copyCount(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_COPY_COUNT)
    throw new LocatedTemplateError(
      `The copy count at '${path}' must be an Integer from 0 to ${MAX_COPY_COUNT}, but is '${JSON.stringify(value)}'.`,
    );
  return value;
}

/** A property `copy` array (`[{name, count, input}]`): each becomes the property `name`, an array of `count` inputs. */
function expandPropertyCopies(copies: unknown[], scope: TemplateScope, path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  copies.forEach((spec, i) => {
    const where = pathOf(pathOf(path, 'copy'), i);
    if (!isObject(spec) || typeof spec.name !== 'string' || !('input' in spec))
      throw new LocatedTemplateError(`The property copy at '${where}' needs a 'name', a 'count' and an 'input'.`);
    const name = spec.name;
    const count = copyCount(evaluateValue(spec.count, scope, pathOf(where, 'count')), pathOf(where, 'count'));
    setOwn(
      out,
      name,
      Array.from({ length: count }, (_, index) =>
        evaluateValue(
          spec.input,
          { ...scope, copyIndexes: { ...scope.copyIndexes, [name.toLowerCase()]: index } },
          pathOf(where, 'input'),
        ),
      ),
    );
  });
  return out;
}

/** How many JSON nodes one deployment may evaluate: far more than the largest real template needs. */
export const MAX_EVALUATION_WORK = 5_000_000;

/** A JSON value of the template with every expression in it evaluated. */
export function evaluateValue(value: unknown, scope: TemplateScope, path: string): unknown {
  if (--scope.work.left < 0)
    throw new LocatedTemplateError(
      `The template needs more work to evaluate than a deployment may take (at '${path}'): reduce its copy loops.`,
    );
  if (typeof value === 'string') return evaluateString(value, scope, path);
  if (Array.isArray(value)) return value.map((v, i) => evaluateValue(v, scope, pathOf(path, i)));
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'copy' && Array.isArray(v)) {
      Object.assign(out, expandPropertyCopies(v, scope, path));
      continue;
    }
    const key = evaluateString(k, scope, pathOf(path, k));
    if (typeof key !== 'string')
      throw new LocatedTemplateError(`The property name at '${pathOf(path, k)}' must evaluate to a String.`);
    setOwn(out, key, evaluateValue(v, scope, pathOf(path, k)));
  }
  return out;
}

/**
 * Every expression of a JSON value parses and calls only known functions: checked for the whole
 * template before anything is deployed, so an unknown function changes nothing.
 */
export function checkExpressions(value: unknown, path: string): void {
  const check = (s: string, where: string) => {
    try {
      const read = readTemplateString(s);
      if (read.kind === 'text') return;
      const unknown = callsIn(read.expr).find((c) => !isKnownFunction(c.name));
      if (unknown) throw unknownFunction(unknown.name, unknown.at);
    } catch (e) {
      throw locate(e, where);
    }
  };
  if (typeof value === 'string') {
    check(value, path);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      checkExpressions(v, pathOf(path, i));
    });
    return;
  }
  if (!isObject(value)) return;
  for (const [k, v] of Object.entries(value)) {
    check(k, pathOf(path, k));
    checkExpressions(v, pathOf(path, k));
  }
}
