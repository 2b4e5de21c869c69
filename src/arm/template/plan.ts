import { checkExpressions, copyCount, evaluateExpr, evaluateValue, LocatedTemplateError, pathOf } from './evaluate.ts';
import type { TemplateScope } from './functions.ts';
import { TEMPLATE_TYPES, templateScope, type DeploymentEnvironment, type ResolvedParameter } from './parameters.ts';
import { readTemplateString, type Expr } from './parse.ts';

// A template made into a plan: its parameters resolved, its resources expanded (nested child
// resources flattened, `copy` loops unrolled, `condition: false` left out), each with its resource id,
// and put in an order where every resource comes after what it depends on (`dependsOn`, a child's
// parent, and the resources its `reference()` calls name). A cycle is refused. Pure functions.

export interface PlannedResource {
  /** The resource id, `/subscriptions/…/providers/Namespace/type/name`. */
  id: string;
  type: string;
  /** The full name, with its parents' names (`vnet/subnet`). */
  name: string;
  apiVersion: string;
  /** Where in the template it is defined, for error messages. */
  path: string;
  /** The resource's definition, whose properties are evaluated when it is deployed (they may use `reference`). */
  definition: Record<string, unknown>;
  copyIndexes: Record<string, number>;
  /** The ids of the resources it waits for. */
  dependsOn: string[];
}

export interface DeploymentPlan {
  parameters: ResolvedParameter[];
  /** In dependency order. */
  resources: PlannedResource[];
  outputs: Record<string, unknown>;
  scope: TemplateScope;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const key = (id: string) => id.toLowerCase();

/** ARM's limit of resources in one deployment, after copy loops are expanded. */
export const MAX_RESOURCES = 800;

interface Instance extends PlannedResource {
  condition: boolean;
  loop?: string;
  /** The dependsOn entries as evaluated, before they are matched to resources. */
  declared: string[];
  /** What its reference() calls name. */
  referenced: string[];
  parentId?: string;
}

function textOf(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0)
    throw new LocatedTemplateError(`The value at '${path}' must be a non-empty String.`);
  return value;
}

/** A child's type and name below its parent's: a short `subnets` is the parent's type + `/subnets`. */
function childIdentity(parent: Instance | undefined, type: string, name: string) {
  if (!parent) return { type, name };
  const fullType = type.includes('/') && type.split('/')[0].includes('.') ? type : `${parent.type}/${type}`;
  const wanted = fullType.split('/').length - 1;
  const fullName = name.split('/').length < wanted ? `${parent.name}/${name}` : name;
  return { type: fullType, name: fullName };
}

function resourceIdOf(env: DeploymentEnvironment, type: string, name: string, path: string): string {
  const [namespace, ...types] = type.split('/');
  const names = name.split('/');
  if (!namespace.includes('.') || types.length === 0 || names.length !== types.length || names.some((n) => !n))
    throw new LocatedTemplateError(
      `The resource at '${path}' has the type '${type}' and the name '${name}': a type of n segments after its namespace needs a name of n segments.`,
    );
  const segments = types.map((t, i) => `${t}/${names[i]}`).join('/');
  return `/subscriptions/${env.subscriptionId}/resourceGroups/${env.resourceGroup.name}/providers/${namespace}/${segments}`;
}

function expand(
  definitions: unknown,
  basePath: string,
  scope: TemplateScope,
  env: DeploymentEnvironment,
  parent: Instance | undefined,
  out: Instance[],
): void {
  if (definitions === undefined) return;
  if (!Array.isArray(definitions))
    throw new LocatedTemplateError(`The value at '${basePath}' must be an array of resources.`);
  definitions.forEach((definition, i) => {
    const path = pathOf(basePath, i);
    if (!isObject(definition)) throw new LocatedTemplateError(`The resource at '${path}' must be an object.`);
    const copy = definition.copy;
    let loop: string | undefined;
    let count = 1;
    if (copy !== undefined) {
      if (!isObject(copy) || typeof copy.name !== 'string' || copy.name === '')
        throw new LocatedTemplateError(`The copy of the resource at '${path}' needs a 'name' and a 'count'.`);
      loop = copy.name;
      count = copyCount(evaluateValue(copy.count, scope, `${path}.copy.count`), `${path}.copy.count`);
    }
    for (let index = 0; index < count; index++) {
      const own: TemplateScope =
        loop === undefined
          ? scope
          : { ...scope, copyIndexes: { ...scope.copyIndexes, '': index, [loop.toLowerCase()]: index } };
      const condition =
        'condition' in definition ? evaluateValue(definition.condition, own, `${path}.condition`) : true;
      if (typeof condition !== 'boolean')
        throw new LocatedTemplateError(`The condition at '${path}.condition' must be a Boolean.`);
      const rawType = textOf(evaluateValue(definition.type, own, `${path}.type`), `${path}.type`);
      const rawName = textOf(evaluateValue(definition.name, own, `${path}.name`), `${path}.name`);
      const { type, name } = childIdentity(parent, rawType, rawName);
      const apiVersion = textOf(evaluateValue(definition.apiVersion, own, `${path}.apiVersion`), `${path}.apiVersion`);
      const dependsOn = definition.dependsOn ?? [];
      if (!Array.isArray(dependsOn))
        throw new LocatedTemplateError(`The value at '${path}.dependsOn' must be an array.`);
      const declared = dependsOn.map((d, j) =>
        textOf(evaluateValue(d, own, `${path}.dependsOn[${j}]`), `${path}.dependsOn[${j}]`),
      );
      const instance: Instance = {
        id: resourceIdOf(env, type, name, path),
        type,
        name,
        apiVersion,
        path,
        definition,
        copyIndexes: { ...own.copyIndexes },
        dependsOn: [],
        condition: condition && (parent?.condition ?? true),
        loop,
        declared,
        referenced: referencedTargets(definition, own),
        parentId: parent?.id,
      };
      if (out.length >= MAX_RESOURCES)
        throw new LocatedTemplateError(
          `The template expands to more than ${MAX_RESOURCES} resources, the most a deployment may hold.`,
        );
      out.push(instance);
      expand(definition.resources, `${path}.resources`, own, env, instance, out);
    }
  });
}

/** The call nodes of an expression, outermost first. */
function callNodes(e: Expr): Extract<Expr, { kind: 'call' }>[] {
  switch (e.kind) {
    case 'literal':
      return [];
    case 'call':
      return [e, ...e.args.flatMap(callNodes)];
    case 'property':
      return callNodes(e.target);
    case 'index':
      return [...callNodes(e.target), ...callNodes(e.index)];
  }
}

/** The targets of a definition's `reference()` calls that can be worked out before deploying: implicit dependencies. */
function referencedTargets(definition: Record<string, unknown>, scope: TemplateScope): string[] {
  const found: string[] = [];
  const visit = (v: unknown) => {
    if (typeof v === 'string') {
      const read = readTemplateString(v); // already checked to parse
      if (read.kind === 'text') return;
      for (const call of callNodes(read.expr)) {
        if (call.name.toLowerCase() !== 'reference' || call.args.length === 0) continue;
        try {
          const target = evaluateExpr(call.args[0], scope);
          if (typeof target === 'string') found.push(target);
        } catch {
          // A target that needs another reference: the template's own dependsOn must order it.
        }
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (isObject(v)) for (const x of Object.values(v)) visit(x);
  };
  for (const part of ['properties', 'location', 'tags', 'sku', 'kind', 'identity', 'plan', 'zones'])
    visit(definition[part]);
  return found;
}

/** The resources an evaluated dependsOn entry names: by resource id, by `type/name`, by name, or a copy loop's name. */
function matchDependency(entry: string, all: Instance[]): Instance[] {
  const e = entry.toLowerCase();
  if (e.startsWith('/subscriptions/')) return all.filter((r) => key(r.id) === e);
  const byId = all.filter((r) => key(r.id).endsWith(`/providers/${e}`) || key(`${r.type}/${r.name}`) === e);
  if (byId.length > 0) return byId;
  const byName = all.filter((r) => key(r.name) === e || key(r.name.split('/').pop()!) === e);
  if (byName.length > 0) return byName;
  return all.filter((r) => r.loop !== undefined && key(r.loop) === e);
}

/**
 * Orders the resources so that each comes after what it depends on (Kahn's algorithm, keeping the
 * template's order among those that are ready); a cycle is ARM's InvalidTemplate naming its resources.
 */
export function dependencyOrder<T extends { id: string; dependsOn: string[] }>(resources: T[]): T[] {
  const pending = new Map(resources.map((r) => [key(r.id), new Set(r.dependsOn.map(key))]));
  const ordered: T[] = [];
  const done = new Set<string>();
  while (ordered.length < resources.length) {
    const ready = resources.filter(
      (r) => !done.has(key(r.id)) && [...pending.get(key(r.id))!].every((d) => done.has(d)),
    );
    if (ready.length === 0) {
      const stuck = resources.filter((r) => !done.has(key(r.id))).map((r) => `'${r.id}'`);
      throw new LocatedTemplateError(
        `Deployment template validation failed: 'Circular dependency detected on resource: ${stuck.slice(0, 10).join(' and ')}. Please see https://aka.ms/arm-template/#resources for usage details.'`,
      );
    }
    for (const r of ready) {
      done.add(key(r.id));
      ordered.push(r);
    }
  }
  return ordered;
}

/** A template and the deployment's parameters made into the resources to deploy, in order. */
export function planDeployment(
  template: unknown,
  given: Record<string, unknown>,
  env: DeploymentEnvironment,
): DeploymentPlan {
  if (!isObject(template)) throw new LocatedTemplateError('The template must be a JSON object.');
  for (const part of ['parameters', 'variables', 'outputs'] as const)
    if (template[part] !== undefined && !isObject(template[part]))
      throw new LocatedTemplateError(`The template's '${part}' must be an object.`);
  for (const part of ['parameters', 'variables', 'resources', 'outputs'] as const)
    checkExpressions(template[part], part);
  const { scope, parameters } = templateScope(template, given, env);
  const resolved = parameters();
  const all: Instance[] = [];
  expand(template.resources ?? [], 'resources', scope, env, undefined, all);

  const seen = new Map<string, Instance>();
  for (const r of all.filter((x) => x.condition)) {
    if (seen.has(key(r.id)))
      throw new LocatedTemplateError(
        `The resource '${r.id}' is defined multiple times in the template (at '${seen.get(key(r.id))!.path}' and '${r.path}').`,
      );
    seen.set(key(r.id), r);
  }
  const live = all.filter((r) => r.condition);
  for (const r of live) {
    const deps = new Set<string>(r.parentId && seen.has(key(r.parentId)) ? [r.parentId] : []);
    for (const wanted of r.declared) {
      const matches = matchDependency(wanted, all);
      if (matches.length === 0)
        throw new LocatedTemplateError(
          `The resource '${wanted}' that the resource at '${r.path}' depends on is not defined in the template.`,
        );
      // A dependency on a resource whose condition is false is dropped, as ARM does.
      for (const m of matches) if (m.condition) deps.add(m.id);
    }
    // A reference() to a resource outside the template is no dependency.
    for (const target of r.referenced)
      for (const m of matchDependency(target, all)) if (m.condition && key(m.id) !== key(r.id)) deps.add(m.id);
    r.dependsOn = [...deps];
  }
  const outputs = isObject(template.outputs) ? template.outputs : {};
  return {
    parameters: resolved,
    resources: dependencyOrder(live).map(
      ({ id, type, name, apiVersion, path, definition, copyIndexes, dependsOn }) => ({
        id,
        type,
        name,
        apiVersion,
        path,
        definition,
        copyIndexes,
        dependsOn,
      }),
    ),
    outputs,
    scope,
  };
}

/** The parts of a resource's definition that are not its request body. */
const NOT_BODY = new Set([
  'name',
  'type',
  'apiversion',
  'dependson',
  'copy',
  'condition',
  'resources',
  'comments',
  'metadata',
]);

/**
 * The body a resource is PUT with: its definition's other parts, evaluated in the scope of its copy
 * loop and with `reference()` answered by the deployment. A nested deployment whose expressions are
 * evaluated in its own scope (`expressionEvaluationOptions.scope: inner`) keeps its template as written.
 */
export function requestBody(r: PlannedResource, scope: TemplateScope): Record<string, unknown> {
  const own: TemplateScope = { ...scope, copyIndexes: r.copyIndexes };
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.definition)) {
    if (NOT_BODY.has(k.toLowerCase())) continue;
    const innerTemplate =
      k === 'properties' &&
      isObject(v) &&
      isObject(v.expressionEvaluationOptions) &&
      String(v.expressionEvaluationOptions.scope).toLowerCase() === 'inner';
    if (innerTemplate) {
      const { template, ...rest } = v;
      body[k] = { ...(evaluateValue(rest, own, pathOf(r.path, k)) as object), template };
    } else {
      body[k] = evaluateValue(v, own, pathOf(r.path, k));
    }
  }
  return body;
}

/** The template's outputs, evaluated once every resource is deployed; secure ones are shown without their value. */
export function evaluateOutputs(
  outputs: Record<string, unknown>,
  scope: TemplateScope,
): Record<string, { type: string; value?: unknown }> {
  const out: Record<string, { type: string; value?: unknown }> = {};
  for (const [name, definition] of Object.entries(outputs)) {
    const path = pathOf('outputs', name);
    if (!isObject(definition) || !(String(definition.type).toLowerCase() in TEMPLATE_TYPES))
      throw new LocatedTemplateError(`The output '${name}' needs a valid 'type' and a 'value'.`);
    if ('condition' in definition && evaluateValue(definition.condition, scope, `${path}.condition`) !== true) continue;
    const type = TEMPLATE_TYPES[String(definition.type).toLowerCase()];
    if (type.startsWith('Secure')) {
      out[name] = { type };
      continue;
    }
    let value: unknown;
    if (isObject(definition.copy)) {
      const count = copyCount(evaluateValue(definition.copy.count, scope, `${path}.copy.count`), `${path}.copy.count`);
      value = Array.from({ length: count }, (_, index) =>
        evaluateValue(
          definition.copy && (definition.copy as Record<string, unknown>).input,
          { ...scope, copyIndexes: { '': index } },
          `${path}.copy.input`,
        ),
      );
    } else {
      value = evaluateValue(definition.value, scope, `${path}.value`);
    }
    out[name] = { type, value };
  }
  return out;
}
