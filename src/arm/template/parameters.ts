import { copyCount, evaluateValue, LocatedTemplateError, MAX_EVALUATION_WORK, pathOf } from './evaluate.ts';
import { jsonEquals, type TemplateScope } from './functions.ts';
import { TemplateError } from './parse.ts';

// A template's parameters (declared types, defaults, allowed values, the values given with the
// deployment) and its variables (lazy, so a variable may use another; a cycle is an error), made
// into the scope that expressions are evaluated in. Pure functions.

export interface DeploymentEnvironment {
  subscriptionId: string;
  tenantId: string;
  resourceGroup: { name: string; location: string };
  deploymentName: string;
}

export interface ResolvedParameter {
  /** The name as the template declares it. */
  name: string;
  /** ARM's name of the type, as a deployment shows it: String, SecureString, Int, Bool, Object, SecureObject, Array. */
  type: string;
  value: unknown;
  secure: boolean;
}

/** ARM's names of the template types (parameters' and outputs'), by the type as a template writes it, lower-cased. */
export const TEMPLATE_TYPES: Record<string, string> = {
  string: 'String',
  securestring: 'SecureString',
  int: 'Int',
  bool: 'Bool',
  object: 'Object',
  secureobject: 'SecureObject',
  array: 'Array',
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const invalid = (name: string, why: string) =>
  new LocatedTemplateError(`The provided value for the template parameter '${name}' is not valid. ${why}`);

/** A value of the declared type (numbers and booleans given as text are read as ARM reads them), within its limits. */
export function checkParameterValue(name: string, declaration: Record<string, unknown>, raw: unknown): unknown {
  const type = String(declaration.type ?? '').toLowerCase();
  let value = raw;
  if (type === 'int' && typeof value === 'string' && /^-?\d{1,15}$/.test(value)) value = Number(value);
  if (type === 'bool' && typeof value === 'string' && /^(true|false)$/i.test(value))
    value = value.toLowerCase() === 'true';
  const ok =
    type === 'string' || type === 'securestring'
      ? typeof value === 'string'
      : type === 'int'
        ? typeof value === 'number' && Number.isInteger(value)
        : type === 'bool'
          ? typeof value === 'boolean'
          : type === 'array'
            ? Array.isArray(value)
            : isObject(value);
  if (!ok) throw invalid(name, `Expected a value of type '${TEMPLATE_TYPES[type]}'.`);
  const allowed = declaration.allowedValues;
  if (Array.isArray(allowed)) {
    const items = Array.isArray(value) ? value : [value];
    if (!items.every((v) => allowed.some((a) => jsonEquals(a, v))))
      throw invalid(
        name,
        `The parameter value is not part of the allowed value(s): '${allowed.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(',')}'.`,
      );
  }
  const num = (k: string) => (typeof declaration[k] === 'number' ? (declaration[k] as number) : undefined);
  const size = typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
  if (typeof value === 'number') {
    if (num('minValue') !== undefined && value < num('minValue')!)
      throw invalid(name, `The value is less than the minimum value of ${num('minValue')}.`);
    if (num('maxValue') !== undefined && value > num('maxValue')!)
      throw invalid(name, `The value is greater than the maximum value of ${num('maxValue')}.`);
  }
  if (size !== undefined) {
    if (num('minLength') !== undefined && size < num('minLength')!)
      throw invalid(name, `The length is less than the minimum length of ${num('minLength')}.`);
    if (num('maxLength') !== undefined && size > num('maxLength')!)
      throw invalid(name, `The length is greater than the maximum length of ${num('maxLength')}.`);
  }
  return value;
}

/** Looks a name up case-insensitively, as ARM does for parameters and variables. */
const keyOf = (o: Record<string, unknown>, name: string) =>
  Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());

/**
 * The scope of a template's expressions: its parameters (the given values, else the defaults) and
 * its variables, both worked out when first used. `given` is the deployment's `parameters` object
 * (`{name: {value}}`).
 */
export function templateScope(
  template: Record<string, unknown>,
  given: Record<string, unknown>,
  env: DeploymentEnvironment,
): { scope: TemplateScope; parameters: () => ResolvedParameter[] } {
  const declared = isObject(template.parameters) ? template.parameters : {};
  const variables = isObject(template.variables) ? template.variables : {};
  for (const [name, decl] of Object.entries(declared)) {
    if (!isObject(decl) || !(String(decl.type ?? '').toLowerCase() in TEMPLATE_TYPES))
      throw new LocatedTemplateError(
        `The template parameter '${name}' has no valid type: use one of 'string, securestring, int, bool, object, secureobject, array'.`,
      );
  }
  const extra = Object.keys(given).filter((k) => keyOf(declared, k) === undefined);
  if (extra.length > 0)
    throw new LocatedTemplateError(
      `The template parameters '${extra.join(', ')}' in the parameters file are not valid; they are not present in the original template and can therefore not be provided at deployment time. The only supported parameters for this template are '${Object.keys(declared).join(', ')}'.`,
    );

  const values = new Map<string, unknown>();
  const variableValues = new Map<string, unknown>();
  const inProgress = new Set<string>();
  const copyVariables = Array.isArray(variables.copy) ? variables.copy : [];

  const scope: TemplateScope = {
    ...env,
    copyIndexes: {},
    work: { left: MAX_EVALUATION_WORK },
    parameter(name) {
      const key = keyOf(declared, name);
      if (key === undefined) throw new TemplateError(`The template parameter '${name}' is not found.`);
      const id = key.toLowerCase();
      if (values.has(id)) return values.get(id);
      if (inProgress.has(`p:${id}`))
        throw new TemplateError(`The default value of the template parameter '${key}' refers to itself.`);
      inProgress.add(`p:${id}`);
      try {
        const decl = declared[key] as Record<string, unknown>;
        const givenKey = keyOf(given, key);
        let raw: unknown;
        if (givenKey !== undefined) {
          const entry = given[givenKey];
          if (!isObject(entry) || !('value' in entry))
            throw new LocatedTemplateError(
              `The value of the template parameter '${key}' must be given as {"value": ...}; Key Vault references are not supported.`,
            );
          raw = entry.value;
        } else if ('defaultValue' in decl) {
          raw = evaluateValue(decl.defaultValue, { ...scope, reference: undefined }, `parameters.${key}.defaultValue`);
        } else {
          throw new LocatedTemplateError(`The value for the template parameter '${key}' is not provided.`);
        }
        const value = checkParameterValue(key, decl, raw);
        values.set(id, value);
        return value;
      } finally {
        inProgress.delete(`p:${id}`);
      }
    },
    variable(name) {
      const id = name.toLowerCase();
      if (variableValues.has(id)) return variableValues.get(id);
      const key = keyOf(variables, name);
      const loop = copyVariables.find((c) => isObject(c) && typeof c.name === 'string' && c.name.toLowerCase() === id);
      if ((key === undefined || key === 'copy') && !isObject(loop))
        throw new TemplateError(`The template variable '${name}' is not found.`);
      if (inProgress.has(`v:${id}`)) throw new TemplateError(`The template variable '${name}' refers to itself.`);
      inProgress.add(`v:${id}`);
      try {
        // Variables are not evaluated within a resource's loop: copyIndex and reference are not theirs.
        const plain: TemplateScope = { ...scope, copyIndexes: {}, reference: undefined };
        let value: unknown;
        if (isObject(loop)) {
          const where = `variables.copy.${name}`;
          const count = copyCount(evaluateValue(loop.count, plain, `${where}.count`), `${where}.count`);
          value = Array.from({ length: count }, (_, index) =>
            evaluateValue(loop.input, { ...plain, copyIndexes: { [id]: index } }, `${where}.input`),
          );
        } else {
          value = evaluateValue(variables[key!], plain, pathOf('variables', key!));
        }
        variableValues.set(id, value);
        return value;
      } finally {
        inProgress.delete(`v:${id}`);
      }
    },
  };

  const parameters = (): ResolvedParameter[] =>
    Object.entries(declared).map(([name, decl]) => {
      const type = TEMPLATE_TYPES[String((decl as Record<string, unknown>).type).toLowerCase()];
      return { name, type, value: scope.parameter(name), secure: type.startsWith('Secure') };
    });
  return { scope, parameters };
}
