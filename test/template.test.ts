// The template engine's pure functions: expressions, parameters and variables, copy loops,
// dependency order and its refusals, without a server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { evaluateString, evaluateValue } from '../src/arm/template/evaluate.ts';
import { nameGuid, uniqueString } from '../src/arm/template/functions.ts';
import { parseLenientJson } from '../src/core/jsonc.ts';
import { templateScope, type DeploymentEnvironment } from '../src/arm/template/parameters.ts';
import { TemplateError } from '../src/arm/template/parse.ts';
import { dependencyOrder, evaluateOutputs, planDeployment, requestBody } from '../src/arm/template/plan.ts';

const SUB = '00000000-0000-0000-0000-000000000001';
const env: DeploymentEnvironment = {
  subscriptionId: SUB,
  tenantId: '00000000-0000-0000-0000-0000000000aa',
  resourceGroup: { name: 'rg', location: 'local' },
  deploymentName: 'dep',
};

const scopeOf = (template: Record<string, unknown> = {}, given: Record<string, unknown> = {}) =>
  templateScope(template, given, env).scope;
const ev = (s: string, template: Record<string, unknown> = {}, given: Record<string, unknown> = {}) =>
  evaluateString(s, scopeOf(template, given), 'x');

const refusal = (work: () => unknown, pattern: RegExp) =>
  assert.throws(
    work,
    (e: unknown) => e instanceof TemplateError && e.code === 'InvalidTemplate' && pattern.test(e.message),
  );

describe('template expressions', () => {
  it('reads literals, escapes, strings with quotes, property access and indexes', () => {
    assert.equal(ev('plain'), 'plain');
    assert.equal(ev('[[not an expression]'), '[not an expression]');
    assert.equal(ev("[concat('it''s', ' ', string(3))]"), "it's 3");
    assert.equal(ev('[resourceGroup().location]'), 'local');
    assert.equal(ev('[subscription().subscriptionId]'), SUB);
    assert.equal(ev("[createArray('a', 'b', 'c')[1]]"), 'b');
    assert.equal(ev('[json(\'{"A":{"b":[1,2]}}\').a.B[1]]'), 2);
    assert.equal(ev("[toUpper(toLower('MiXeD'))]"), 'MIXED');
  });

  it('computes resourceId at every arity', () => {
    assert.equal(
      ev("[resourceId('Microsoft.Compute/virtualMachines', 'vm1')]"),
      `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1`,
    );
    assert.equal(
      ev("[resourceId('other', 'Microsoft.Network/virtualNetworks/subnets', 'vnet', 'default')]"),
      `/subscriptions/${SUB}/resourceGroups/other/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default`,
    );
    assert.equal(
      ev("[resourceId('s2', 'g2', 'Microsoft.Storage/storageAccounts', 'sa')]"),
      '/subscriptions/s2/resourceGroups/g2/providers/Microsoft.Storage/storageAccounts/sa',
    );
    refusal(() => ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')]"), /expects 2 resource name/);
  });

  it('has if, equals, not, and, or, length, format, concat of arrays', () => {
    assert.equal(
      ev("[if(equals(1, 1), 'yes', parameters('missing'))]"),
      'yes',
      'if does not evaluate the other branch',
    );
    assert.equal(ev('[and(true(), not(false()), or(false(), true()))]'), true);
    assert.equal(ev('[length(concat(createArray(1, 2), createArray(3)))]'), 3);
    assert.equal(ev("[length('four')]"), 4);
    assert.equal(ev("[format('{0}-{1} {{x}}', 'a', 7)]"), 'a-7 {x}');
    assert.equal(ev("[concat('a', true())]"), 'aTrue');
  });

  it('makes stable uniqueString and guid values of the right shape', () => {
    const u = ev('[uniqueString(resourceGroup().id)]');
    assert.match(String(u), /^[a-z2-7]{13}$/);
    assert.equal(u, ev('[uniqueString(resourceGroup().id)]'));
    assert.notEqual(u, ev("[uniqueString(resourceGroup().id, 'x')]"));
    assert.match(nameGuid(['a', 'b']), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 4 }), (parts) => {
        assert.match(uniqueString(parts), /^[a-z2-7]{13}$/);
        assert.equal(uniqueString(parts), uniqueString([...parts]));
      }),
    );
  });

  it('keeps any text starting with [[ as the literal text without its first bracket', () => {
    fc.assert(
      fc.property(fc.string(), (rest) => {
        assert.equal(ev(`[[${rest}`), `[${rest}`);
      }),
    );
  });

  it('round-trips any string literal through quoting', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        assert.equal(ev(`[concat('${s.replaceAll("'", "''")}')]`), s);
      }),
    );
  });

  it('refuses an unknown function, a syntax error and a misplaced copyIndex with InvalidTemplate and where', () => {
    refusal(() => ev("[concat(nosuchFn('a'))]"), /'nosuchFn' is not valid \(at character 9/);
    refusal(() => ev("[concat('a']"), /'\)' was expected/);
    refusal(() => ev('[copyIndex()]'), /only valid within a copy loop/);
    refusal(() => ev("[json('{}').missing]"), /doesn't exist/);
  });
});

describe('template parameters and variables', () => {
  const template = {
    parameters: {
      size: { type: 'string', defaultValue: 'Small', allowedValues: ['Small', 'Large'] },
      count: { type: 'int', defaultValue: 2, minValue: 1, maxValue: 5 },
      password: { type: 'securestring' },
      prefix: { type: 'string', defaultValue: "[concat('p-', parameters('size'))]" },
    },
    variables: {
      a: "[concat(variables('b'), '-a')]",
      b: "[toLower(parameters('prefix'))]",
      copy: [{ name: 'disks', count: "[parameters('count')]", input: { lun: "[copyIndex('disks')]" } }],
    },
  };
  const given = { password: { value: 'secret-1!' } };

  it('takes given values, defaults (which may use other parameters), and lazy variables', () => {
    assert.equal(ev("[variables('a')]", template, given), 'p-small-a');
    assert.equal(ev("[parameters('COUNT')]", template, given), 2);
    assert.deepEqual(ev("[variables('disks')]", template, given), [{ lun: 0 }, { lun: 1 }]);
  });

  it('refuses a missing required value, a value not allowed, a wrong type and an unknown given parameter', () => {
    refusal(() => templateScope(template, {}, env).parameters(), /'password' is not provided/);
    refusal(
      () => templateScope(template, { ...given, size: { value: 'Huge' } }, env).parameters(),
      /not part of the allowed value\(s\): 'Small,Large'/,
    );
    refusal(() => templateScope(template, { ...given, count: { value: 9 } }, env).parameters(), /maximum value of 5/);
    refusal(() => templateScope(template, { ...given, count: { value: 'x' } }, env).parameters(), /type 'Int'/);
    refusal(() => templateScope(template, { ...given, other: { value: 1 } }, env), /'other' in the parameters file/);
  });

  it('refuses a variable that refers to itself', () => {
    refusal(
      () => ev("[variables('x')]", { variables: { x: "[variables('y')]", y: "[variables('x')]" } }),
      /refers to itself/,
    );
  });
});

describe('template plans', () => {
  const vmTemplate = {
    parameters: { names: { type: 'array', defaultValue: ['a', 'b'] }, withIp: { type: 'bool', defaultValue: false } },
    variables: { vnet: 'net' },
    resources: [
      {
        type: 'Microsoft.Compute/virtualMachines',
        apiVersion: '2020-06-01',
        name: "[concat('vm-', parameters('names')[copyIndex()])]",
        copy: { name: 'vms', count: "[length(parameters('names'))]" },
        dependsOn: ["[resourceId('Microsoft.Network/virtualNetworks', variables('vnet'))]", 'ip'],
        properties: {
          index: '[copyIndex(1)]',
          copy: [{ name: 'dataDisks', count: 2, input: { lun: "[copyIndex('dataDisks')]" } }],
        },
      },
      {
        type: 'Microsoft.Network/virtualNetworks',
        apiVersion: '2018-11-01',
        name: "[variables('vnet')]",
        resources: [{ type: 'subnets', apiVersion: '2018-11-01', name: 'default', properties: {} }],
      },
      {
        condition: "[parameters('withIp')]",
        type: 'Microsoft.Network/publicIPAddresses',
        apiVersion: '2018-11-01',
        name: 'ip',
      },
    ],
    outputs: {
      first: { type: 'string', value: "[reference('vm-a').index]" },
      secret: { type: 'securestring', value: 'x' },
    },
  };

  it('expands copy loops and nested children, drops false conditions, and orders by dependencies', () => {
    const plan = planDeployment(vmTemplate, {}, env);
    assert.deepEqual(
      plan.resources.map((r) => `${r.type}/${r.name}`),
      [
        // What each waits for first; then, among those ready, the template's order.
        'Microsoft.Network/virtualNetworks/net',
        'Microsoft.Compute/virtualMachines/vm-a',
        'Microsoft.Compute/virtualMachines/vm-b',
        'Microsoft.Network/virtualNetworks/subnets/net/default',
      ],
    );
    const vmB = plan.resources[2];
    assert.deepEqual(requestBody(vmB, plan.scope), {
      properties: { index: 2, dataDisks: [{ lun: 0 }, { lun: 1 }] },
    });
    const outputs = evaluateOutputs(plan.outputs, {
      ...plan.scope,
      reference: (target) => (target === 'vm-a' ? { index: 1 } : undefined),
    });
    assert.deepEqual(outputs, { first: { type: 'String', value: 1 }, secret: { type: 'SecureString' } });
  });

  it('refuses a cycle, an unknown dependency and an unknown function before anything runs', () => {
    const cyclic = {
      resources: [
        { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2019-06-01', name: 'a', dependsOn: ['b'] },
        { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2019-06-01', name: 'b', dependsOn: ['a'] },
      ],
    };
    refusal(() => planDeployment(cyclic, {}, env), /Circular dependency detected/);
    refusal(
      () => planDeployment({ resources: [{ ...cyclic.resources[0], dependsOn: ['zzz'] }] }, {}, env),
      /'zzz' that the resource at 'resources\[0\]' depends on is not defined/,
    );
    refusal(
      () =>
        planDeployment(
          { resources: [{ ...cyclic.resources[0], dependsOn: [], properties: { x: '[bogus()]' } }] },
          {},
          env,
        ),
      /at 'resources\[0\].properties.x'.*'bogus' is not valid/,
    );
  });

  it('orders any acyclic graph so that each resource follows its dependencies, and finds any cycle', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((n) => fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 }))),
        ([n, edges]) => {
          const nodes = Array.from({ length: n }, (_, i) => ({
            id: `r${i}`,
            dependsOn: edges.filter(([a, b]) => a === i && b < a).map(([, b]) => `r${b}`),
          }));
          const order = dependencyOrder(nodes).map((x) => x.id);
          for (const node of nodes)
            for (const d of node.dependsOn) assert.ok(order.indexOf(d) < order.indexOf(node.id));
          // A chain r0 ← r1 ← … ← r(n-1) closed by r0 depending on r(n-1) is a cycle, whatever else is added.
          const cyclic = nodes.map((x, i) => ({ ...x, dependsOn: [...x.dependsOn, ...(i > 0 ? [`r${i - 1}`] : [])] }));
          cyclic[0].dependsOn.push(`r${n - 1}`);
          assert.throws(
            () => dependencyOrder(cyclic),
            (e: unknown) => e instanceof TemplateError && /Circular dependency/.test(e.message),
          );
        },
      ),
    );
  });

  it('refuses copy loops nested so deep that evaluating them would run away', () => {
    const level = (input: unknown) => ({ copy: [{ name: 'x', count: 800, input }] });
    refusal(
      () => evaluateValue(level(level(level({ a: 1 }))), scopeOf(), 'properties'),
      /more work to evaluate than a deployment may take/,
    );
  });

  it('evaluates property names that are expressions', () => {
    const scope = scopeOf({ parameters: { tag: { type: 'string', defaultValue: 'env' } } });
    assert.deepEqual(evaluateValue({ "[parameters('tag')]": 'prod' }, scope, 'tags'), { env: 'prod' });
  });
});

describe('request bodies as Resource Manager reads them', () => {
  it("reads az's spliced template: an unquoted key, comments and trailing commas", () => {
    const body = `{"properties": {"parameters": {"a": {"value": "x//y"}}, "mode": "Incremental", template:{
      // a comment
      "resources": [ /* none */ ],
      "outputs": { "o": { "type": "string", "value": "[[,}" }, },
    }}}`;
    assert.deepEqual(parseLenientJson(body), {
      properties: {
        parameters: { a: { value: 'x//y' } },
        mode: 'Incremental',
        template: { resources: [], outputs: { o: { type: 'string', value: '[[,}' } } },
      },
    });
    assert.throws(() => parseLenientJson('{"a": /* open'), SyntaxError);
    assert.throws(() => parseLenientJson('{a b}'), SyntaxError);
  });

  it('reads any strict JSON as JSON.parse does', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const text = JSON.stringify(v);
        assert.deepEqual(parseLenientJson(text), JSON.parse(text));
      }),
    );
  });
});
