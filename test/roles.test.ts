// Role assignments and the one authorization check, through Microsoft.Authorization over HTTPS.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { DEPLOYMENT, STACK_OPERATOR, SYSTEM_ADMINISTRATOR, USAGE_REPORTER } from '../src/arm/roles.ts';
import { startTestSystem, type TestSystem } from './helpers/system.ts';

const OWNER = '8e3af657-a8ff-443c-a75c-2fe8c4bcb635';
const CONTRIBUTOR = 'b24988ac-6180-42a0-ab88-20f7382dd24c';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const AUTHZ = 'api-version=2022-04-01';
const RG = 'api-version=2021-04-01';

describe('roles and authorization', () => {
  let t: TestSystem;
  let arm: string;
  let sub: string;
  let csp: string; // the CSP service principal's token (Owner of the registration subscription)
  let operator: string; // a principal of another directory
  let operatorId: string;

  before(async () => {
    t = await startTestSystem();
    arm = t.b.hub.arm;
    sub = t.b.csp.registrationSubscriptionId;
    csp = await t.appToken('csp', arm);
    operator = await t.appToken('operator', arm);
    operatorId = String(decodeJwt(operator).oid);
  });
  after(() => t.stop());

  const assignmentUrl = (scope: string, name: string, api = AUTHZ) =>
    `${arm}${scope}/providers/Microsoft.Authorization/roleAssignments/${name}?${api}`;
  const assign = (
    scope: string,
    role: string,
    principalId: string,
    name: string = randomUUID(),
    token = csp,
    api = AUTHZ,
  ) =>
    t.call('PUT', assignmentUrl(scope, name, api), {
      token,
      body: {
        properties: {
          roleDefinitionId: `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${role}`,
          principalId,
        },
      },
    });

  it('lists the built-in role definitions with their well-known ids', async () => {
    for (const api of ['2015-07-01', '2022-04-01']) {
      const res = await t.call(
        'GET',
        `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions?api-version=${api}`,
        { token: csp },
      );
      assert.equal(res.status, 200);
      const byName = Object.fromEntries(
        res.body.value.map((r: { properties: { roleName: unknown }; name: unknown }) => [
          r.properties.roleName,
          r.name,
        ]),
      );
      assert.deepEqual(byName, {
        Owner: OWNER,
        Contributor: CONTRIBUTOR,
        Reader: READER,
        'System Administrator': SYSTEM_ADMINISTRATOR,
        'Azure Stack Operator': STACK_OPERATOR,
        'Usage Reporter': USAGE_REPORTER,
        'Azure Stack Deployment': DEPLOYMENT,
      });
    }
    const reader = await t.call(
      'GET',
      `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions?${AUTHZ}&$filter=roleName eq 'Reader'`,
      { token: csp },
    );
    assert.equal(reader.body.value.length, 1);
    assert.equal(
      reader.body.value[0].id,
      `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${READER}`,
    );
  });

  it('shows that the creator of the subscription is its Owner', async () => {
    const list = await t.call(
      'GET',
      `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}`,
      { token: csp },
    );
    assert.equal(list.status, 200);
    const owners = list.body.value.filter((a: { properties: { roleDefinitionId: string } }) =>
      a.properties.roleDefinitionId.endsWith(OWNER),
    );
    assert.equal(owners.length, 2, 'the CSP service principal and its admin user');
    assert.ok(
      owners.some(
        (a: { properties: { principalId: unknown; principalType: unknown } }) =>
          a.properties.principalId === decodeJwt(csp).oid && a.properties.principalType === 'ServicePrincipal',
      ),
    );
  });

  it('refuses everything to a principal without a role, naming the action and the scope', async () => {
    const res = await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/x?${RG}`, {
      token: operator,
      body: { location: 'global' },
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'AuthorizationFailed');
    assert.match(res.body.error.message, /Microsoft\.Resources\/subscriptions\/resourceGroups\/write/);
    assert.match(res.body.error.message, new RegExp(`/subscriptions/${sub}/resourceGroups/x`));
    const list = await t.call('GET', `${arm}/subscriptions?api-version=2022-12-01`, { token: operator });
    assert.deepEqual(list.body.value, []);
  });

  it('lets a Reader read but not write, a Contributor write but not assign roles, an Owner assign', async () => {
    const readerName = randomUUID();
    const created = await assign(`/subscriptions/${sub}`, READER, operatorId, readerName);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.properties.principalType, 'ServicePrincipal', 'the type is read from the directory');
    assert.equal(created.body.properties.scope, `/subscriptions/${sub}`);
    assert.equal(
      (await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups?${RG}`, { token: operator })).status,
      200,
    );
    assert.deepEqual(
      (await t.call('GET', `${arm}/subscriptions?api-version=2022-12-01`, { token: operator })).body.value.map(
        (s: { subscriptionId: unknown }) => s.subscriptionId,
      ),
      [sub],
    );
    const write = await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/by-reader?${RG}`, {
      token: operator,
      body: { location: 'global' },
    });
    assert.equal(write.status, 403);

    const contributorName = randomUUID();
    assert.equal((await assign(`/subscriptions/${sub}`, CONTRIBUTOR, operatorId, contributorName)).status, 201);
    const write2 = await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/by-contributor?${RG}`, {
      token: operator,
      body: { location: 'global' },
    });
    assert.equal(write2.status, 201);
    const escalate = await assign(`/subscriptions/${sub}`, OWNER, operatorId, randomUUID(), operator);
    assert.equal(escalate.status, 403);
    assert.match(escalate.body.error.message, /Microsoft\.Authorization\/roleAssignments\/write/);

    // Removing the roles removes the rights.
    for (const name of [readerName, contributorName]) {
      const del = await t.call('DELETE', assignmentUrl(`/subscriptions/${sub}`, name), { token: csp });
      assert.equal(del.status, 200);
      assert.equal((await t.call('DELETE', assignmentUrl(`/subscriptions/${sub}`, name), { token: csp })).status, 204);
    }
    assert.equal(
      (await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups?${RG}`, { token: operator })).status,
      403,
    );
  });

  it('scopes a role at a resource group to that group only', async () => {
    await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/team-a?${RG}`, {
      token: csp,
      body: { location: 'global' },
    });
    await t.call('PUT', `${arm}/subscriptions/${sub}/resourcegroups/team-b?${RG}`, {
      token: csp,
      body: { location: 'global' },
    });
    const scope = `/subscriptions/${sub}/resourceGroups/team-a`;
    const res = await assign(scope, CONTRIBUTOR, operatorId, randomUUID(), csp, 'api-version=2015-07-01');
    assert.equal(res.status, 201);
    const groups = await t.call('GET', `${arm}/subscriptions/${sub}/resourcegroups?${RG}`, { token: operator });
    assert.deepEqual(
      groups.body.value.map((g: { name: unknown }) => g.name),
      ['team-a'],
    );
    assert.equal(
      (await t.call('PUT', `${arm}${scope}?${RG}`, { token: operator, body: { location: 'global', tags: { x: 'y' } } }))
        .status,
      200,
    );
    assert.equal(
      (
        await t.call('PUT', `${arm}/subscriptions/${sub}/resourceGroups/team-b?${RG}`, {
          token: operator,
          body: { location: 'global' },
        })
      ).status,
      403,
    );
    const atScope = await t.call(
      'GET',
      `${arm}${scope}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}&$filter=atScope()`,
      { token: csp },
    );
    assert.ok(atScope.body.value.some((a: { properties: { scope: unknown } }) => a.properties.scope === scope));
    assert.ok(
      atScope.body.value.some(
        (a: { properties: { scope: unknown } }) => a.properties.scope === `/subscriptions/${sub}`,
      ),
      'inherited ones are listed at scope',
    );
    const mine = await t.call(
      'GET',
      `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}&$filter=principalId eq '${operatorId}'`,
      { token: csp },
    );
    assert.deepEqual(
      mine.body.value.map((a: { properties: { scope: unknown } }) => a.properties.scope),
      [scope],
    );
  });

  it('refuses bad assignments with their own codes and writes nothing', async () => {
    const before = (
      await t.call('GET', `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}`, {
        token: csp,
      })
    ).body.value.length;
    const unknownRole = await assign(`/subscriptions/${sub}`, '11111111-1111-1111-1111-111111111111', operatorId);
    assert.equal(unknownRole.status, 400);
    assert.equal(unknownRole.body.error.code, 'RoleDefinitionDoesNotExist');
    const unknownPrincipal = await assign(`/subscriptions/${sub}`, READER, randomUUID());
    assert.equal(unknownPrincipal.status, 400);
    assert.equal(unknownPrincipal.body.error.code, 'PrincipalNotFound');
    const badName = await assign(`/subscriptions/${sub}`, READER, operatorId, 'not-a-guid');
    assert.equal(badName.status, 400);
    assert.equal(badName.body.error.code, 'InvalidRoleAssignmentId');
    const missing = await t.call('PUT', assignmentUrl(`/subscriptions/${sub}`, randomUUID()), {
      token: csp,
      body: { properties: { principalId: operatorId } },
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.target, 'properties.roleDefinitionId');
    const name = randomUUID();
    assert.equal((await assign(`/subscriptions/${sub}`, READER, operatorId, name)).status, 201);
    assert.equal(
      (await assign(`/subscriptions/${sub}`, READER, operatorId, name)).status,
      200,
      'the same PUT again is idempotent',
    );
    const twin = await assign(`/subscriptions/${sub}`, READER, operatorId);
    assert.equal(twin.status, 409);
    assert.equal(twin.body.error.code, 'RoleAssignmentExists');
    const after = (
      await t.call('GET', `${arm}/subscriptions/${sub}/providers/Microsoft.Authorization/roleAssignments?${AUTHZ}`, {
        token: csp,
      })
    ).body.value.length;
    assert.equal(after, before + 1);
    const missingOne = await t.call('GET', assignmentUrl(`/subscriptions/${sub}`, randomUUID()), { token: csp });
    assert.equal(missingOne.status, 404);
    assert.equal(missingOne.body.error.code, 'RoleAssignmentNotFound');
  });
});
