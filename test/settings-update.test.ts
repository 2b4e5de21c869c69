// A setting changed field by field in one statement (`armStore.updateSetting`, which the usage
// bridge's status uses after each batch): made when missing, fields set and removed, numbers added
// to. Updates at the same moment each count, as they would one after the other.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { armMigrations } from '../src/arm/migrations.ts';
import { armStore, type SettingsDb } from '../src/arm/store.ts';
import { ensureDatabase, migrate, openDatabase, withDatabase } from '../src/db/database.ts';
import { dropDatabases, testServerUrl } from './helpers/system.ts';

const PREFIX = `t_settings_${Date.now()}`;

describe('a setting updated field by field', () => {
  let db: SettingsDb;
  let close: () => Promise<void>;

  before(async () => {
    const url = withDatabase(testServerUrl(), PREFIX);
    await ensureDatabase(url);
    const opened = openDatabase<never>(url, 20);
    await migrate(opened.db, armMigrations);
    db = opened.db as unknown as SettingsDb;
    close = opened.close;
  });
  after(async () => {
    await close?.();
    await dropDatabases(PREFIX);
  });

  it('is made when missing, then keeps the fields it is not told to change', async () => {
    await armStore.updateSetting(db, 'status', { set: { at: 'one', error: 'down' }, add: { delivered: 3 } });
    assert.deepEqual(await armStore.getSetting(db, 'status'), { at: 'one', error: 'down', delivered: 3 });
    await armStore.updateSetting(db, 'status', { set: { at: 'two' }, unset: ['error'], add: { delivered: 4 } });
    assert.deepEqual(await armStore.getSetting(db, 'status'), { at: 'two', delivered: 7 });
    await armStore.updateSetting(db, 'status', { set: { check: { ok: true } } });
    assert.deepEqual(await armStore.getSetting(db, 'status'), { at: 'two', delivered: 7, check: { ok: true } });
  });

  it('counts every addition made at the same moment', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => armStore.updateSetting(db, 'counted', { add: { n: i + 1, m: 0.5 } })),
    );
    assert.deepEqual(await armStore.getSetting(db, 'counted'), { n: (40 * 41) / 2, m: 20 });
  });
});
