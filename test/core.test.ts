import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ancestorScopeKeys, formatResourceId, parseResourceId, resourceTypeOf, scopeKey } from '../src/core/arm-id.ts';
import { addDuration, clockMoveRefusal, parseInstant, parseIsoDuration, SimulatedClock } from '../src/core/clock.ts';
import { WorkScheduler } from '../src/core/scheduler.ts';
import { actionMatches, BUILTIN_ROLES, roleAllows, roleIdFromReference } from '../src/arm/roles.ts';

describe('resource id grammar', () => {
  const id =
    '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/AzureStack/providers/Microsoft.AzureStack/registrations/Reg1/customerSubscriptions/Cust1';

  it('parses a nested resource id, keeping the case given', () => {
    const p = parseResourceId(id)!;
    assert.equal(p.subscriptionId, '11111111-2222-3333-4444-555555555555');
    assert.equal(p.resourceGroup, 'AzureStack');
    assert.equal(p.namespace, 'Microsoft.AzureStack');
    assert.deepEqual(p.resources, [
      { type: 'registrations', name: 'Reg1' },
      { type: 'customerSubscriptions', name: 'Cust1' },
    ]);
    assert.equal(resourceTypeOf(p), 'Microsoft.AzureStack/registrations/customerSubscriptions');
    assert.equal(formatResourceId(p), id);
  });

  it('reads segment names case-insensitively and collapses doubled slashes', () => {
    const p = parseResourceId('//SUBSCRIPTIONS/abc//RESOURCEGROUPS/rg/PROVIDERS/ns/type/name')!;
    assert.equal(p.subscriptionId, 'abc');
    assert.equal(p.resourceGroup, 'rg');
    assert.equal(formatResourceId(p), '/subscriptions/abc/resourceGroups/rg/providers/ns/type/name');
  });

  it('refuses ids that are not resource ids', () => {
    for (const bad of [
      '',
      '/',
      '/tenants/x',
      '/subscriptions',
      '/subscriptions/x/resourceGroups',
      '/subscriptions/x/providers/ns/type',
      '/subscriptions/x/foo/bar',
    ]) {
      assert.equal(parseResourceId(bad), undefined, bad);
    }
  });

  it('lists the scopes above a resource, from the root scope down', () => {
    assert.deepEqual(ancestorScopeKeys('/'), ['/']);
    assert.deepEqual(ancestorScopeKeys('/providers/Stackledger.System'), ['/', '/providers/stackledger.system']);
    assert.deepEqual(ancestorScopeKeys(id), [
      '/',
      '/subscriptions/11111111-2222-3333-4444-555555555555',
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/azurestack',
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/azurestack/providers/microsoft.azurestack/registrations/reg1',
      scopeKey(id),
    ]);
  });
});

describe('roles', () => {
  const [owner, contributor, reader] = BUILTIN_ROLES;
  it('matches actions with wildcards, case-insensitively', () => {
    assert.ok(actionMatches('*/read', 'Microsoft.Resources/subscriptions/resourceGroups/read'));
    assert.ok(actionMatches('Microsoft.Authorization/*/Write', 'microsoft.authorization/roleAssignments/write'));
    assert.ok(!actionMatches('*/read', 'Microsoft.Resources/subscriptions/resourceGroups/write'));
  });
  it('gives Owner everything, Contributor all but access control, Reader only reads', () => {
    const assign = 'Microsoft.Authorization/roleAssignments/write';
    const writeGroup = 'Microsoft.Resources/subscriptions/resourceGroups/write';
    assert.ok(roleAllows(owner, assign) && roleAllows(owner, writeGroup));
    assert.ok(!roleAllows(contributor, assign) && roleAllows(contributor, writeGroup));
    assert.ok(!roleAllows(reader, writeGroup) && roleAllows(reader, 'Microsoft.Resources/subscriptions/read'));
  });
  it('reads role references as bare GUIDs or resource ids', () => {
    assert.equal(
      roleIdFromReference(
        '/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/8E3AF657-A8FF-443C-A75C-2FE8C4BCB635',
      ),
      owner.id,
    );
    assert.equal(roleIdFromReference(reader.id), reader.id);
    assert.equal(roleIdFromReference('Owner'), undefined);
  });
});

describe('time', () => {
  it('parses ISO 8601 durations', () => {
    assert.deepEqual(parseIsoDuration('PT3H'), {
      years: 0,
      months: 0,
      weeks: 0,
      days: 0,
      hours: 3,
      minutes: 0,
      seconds: 0,
    });
    assert.equal(parseIsoDuration('P31DT12H')!.days, 31);
    assert.equal(parseIsoDuration('P31DT12H')!.hours, 12);
    for (const bad of ['', 'P', 'PT', '3H', 'P1H', 'PT-1H', 'tomorrow'])
      assert.equal(parseIsoDuration(bad), undefined, bad);
  });
  it('adds calendar months in UTC and the rest as exact time', () => {
    const t = new Date('2026-01-31T00:00:00Z');
    assert.equal(addDuration(t, parseIsoDuration('P7D')!).toISOString(), '2026-02-07T00:00:00.000Z');
    assert.equal(addDuration(t, parseIsoDuration('PT90M')!).toISOString(), '2026-01-31T01:30:00.000Z');
    assert.equal(
      addDuration(new Date('2026-03-15T00:00:00Z'), parseIsoDuration('P1M')!).toISOString(),
      '2026-04-15T00:00:00.000Z',
    );
  });
  it('parses instants and refuses what is not one', () => {
    assert.equal(parseInstant('2026-01-01T00:00:00Z')!.toISOString(), '2026-01-01T00:00:00.000Z');
    assert.equal(parseInstant('yesterday'), undefined);
    assert.equal(parseInstant('2026-13-45T00:00:00Z'), undefined);
  });

  it('advances a simulated clock a UTC day at a time, doing the due work in order once per step', async () => {
    const clock = new SimulatedClock(new Date('2026-01-01T00:30:00Z'));
    const scheduler = new WorkScheduler(clock);
    const seen: string[] = [];
    const at = (now: Date, since?: Date) =>
      `${now.toISOString().slice(5, 16)} since ${since?.toISOString().slice(5, 16)}`;
    scheduler.register({ name: 'a', runUntil: async (now, since) => void seen.push(`a ${at(now, since)}`) });
    scheduler.register({ name: 'b', runUntil: async (now, since) => void seen.push(`b ${at(now, since)}`) });
    await scheduler.advanceTo(new Date('2026-01-03T02:15:00Z'));
    assert.equal(clock.now().toISOString(), '2026-01-03T02:15:00.000Z');
    assert.deepEqual(seen, [
      'a 01-02T00:00 since 01-01T00:30',
      'b 01-02T00:00 since 01-01T00:30',
      'a 01-03T00:00 since 01-02T00:00',
      'b 01-03T00:00 since 01-02T00:00',
      'a 01-03T02:15 since 01-03T00:00',
      'b 01-03T02:15 since 01-03T00:00',
    ]);
    await assert.rejects(scheduler.advanceTo(new Date('2026-01-01T00:00:00Z')), /backwards/);
  });

  it('keeps each new time and where its step began before the work due then runs, so that a restart finds that work to do', async () => {
    const clock = new SimulatedClock(new Date('2026-01-01T00:00:00Z'));
    const kept: string[] = [];
    const seen: string[] = [];
    const scheduler = new WorkScheduler(clock, {
      persist: async (now, since) =>
        void kept.push(`${now.toISOString().slice(8, 13)} from ${since?.toISOString().slice(8, 13)}`),
    });
    scheduler.register({
      name: 'a',
      runUntil: async (now) => void seen.push(`${now.toISOString().slice(8, 13)} kept ${kept.at(-1)}`),
    });
    await scheduler.advanceTo(new Date('2026-01-02T02:00:00Z'));
    assert.deepEqual(seen, ['02T00 kept 02T00 from 01T00', '02T02 kept 02T02 from 02T00']);
    // A failing step stops the move where it stood, kept.
    scheduler.register({
      name: 'fails',
      runUntil: async (now) => {
        if (now.getUTCDate() === 3) throw new Error('crash');
      },
    });
    await assert.rejects(scheduler.advanceTo(new Date('2026-01-05T00:00:00Z')), /crash/);
    assert.equal(clock.now().toISOString(), '2026-01-03T00:00:00.000Z');
    assert.equal(kept.at(-1), '03T00 from 02T02');
    assert.equal(scheduler.advancing, undefined);
  });

  it('finishes, after a restart, the step a crash cut short, with where it began, then keeps it done', async () => {
    const clock = new SimulatedClock(new Date('2026-01-02T00:00:00Z'));
    const kept: string[] = [];
    const seen: string[] = [];
    const scheduler = new WorkScheduler(clock, {
      persist: async (now, since) =>
        void kept.push(`${now.toISOString().slice(8, 13)} from ${since?.toISOString().slice(8, 13)}`),
    });
    scheduler.register({
      name: 'a',
      runUntil: async (now, since) =>
        void seen.push(`${now.toISOString().slice(8, 13)} since ${since?.toISOString().slice(8, 13)}`),
    });
    await scheduler.finishStep(new Date('2026-01-01T05:00:00Z'));
    assert.deepEqual(seen, ['02T00 since 01T05']);
    assert.deepEqual(kept, ['02T00 from undefined']);
  });

  it("runs each lane's work beside the other lanes', after the work of none and before the settling work", async () => {
    const clock = new SimulatedClock(new Date('2026-01-01T00:00:00Z'));
    const scheduler = new WorkScheduler(clock);
    const seen: string[] = [];
    // Lane east's work waits for lane west's to begin: one after the other, it would wait for ever.
    let westBegan!: () => void;
    const began = new Promise<void>((r) => (westBegan = r));
    const never = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('the lanes ran one after the other')), 10_000).unref(),
    );
    scheduler.register({ name: 'settles', settles: true, runUntil: async () => void seen.push('settles') });
    scheduler.register({ name: 'hub', runUntil: async () => void seen.push('hub') });
    scheduler.register(
      {
        name: 'east close',
        runUntil: async () => {
          seen.push('east close');
          await Promise.race([began, never]);
        },
      },
      'east',
    );
    scheduler.register({ name: 'east deliver', runUntil: async () => void seen.push('east deliver') }, 'east');
    scheduler.register(
      {
        name: 'west close',
        runUntil: async () => {
          seen.push('west close');
          westBegan();
        },
      },
      'west',
    );
    await scheduler.runDue();
    assert.deepEqual(seen, ['hub', 'east close', 'west close', 'east deliver', 'settles']);

    // A lane that fails stops its own lane only: the others finish, then the step fails.
    seen.length = 0;
    scheduler.register({ name: 'west fails', runUntil: async () => Promise.reject(new Error('west down')) }, 'west');
    scheduler.register({ name: 'after the failure', runUntil: async () => void seen.push('west after') }, 'west');
    await assert.rejects(scheduler.runDue(), /west down/);
    assert.deepEqual(seen, ['hub', 'east close', 'west close', 'east deliver']);
  });

  it('moves a simulated clock forward only, and at most ten years at a time', () => {
    const from = new Date('2026-01-01T00:00:00Z');
    assert.equal(clockMoveRefusal(from, from), undefined);
    assert.equal(clockMoveRefusal(from, new Date('2036-01-01T00:00:00Z')), undefined);
    assert.equal(clockMoveRefusal(from, new Date('2036-01-01T00:00:00.001Z'))?.code, 'TimeBeyondHorizon');
    assert.equal(clockMoveRefusal(from, new Date('9999-12-31T00:00:00Z'))?.code, 'TimeBeyondHorizon');
    assert.equal(clockMoveRefusal(from, new Date(Number.NaN))?.code, 'TimeBeyondHorizon');
    assert.equal(clockMoveRefusal(from, new Date('2025-12-31T23:59:59Z'))?.code, 'InvalidTime');
  });
});
