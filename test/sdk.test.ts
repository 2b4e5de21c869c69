// The unmodified official Azure SDK clients against our endpoints, trusting DIR/ca.pem the way a
// user would (NODE_EXTRA_CA_CERTS, read only when a process starts, so they run in a child).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startTestSystem, type TestSystem } from './helpers/system.ts';
import { REPO } from './helpers/repo.ts';

const run = promisify(execFile);

describe('official Azure SDK clients', () => {
  let t: TestSystem;
  before(async () => {
    t = await startTestSystem();
  });
  after(() => t.stop());

  it('ClientSecretCredential gets a token from our login endpoint, and @azure/arm-resources works with default options', async () => {
    const script = path.join(REPO, 'test', 'sdk', 'arm-resources.ts');
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', script, path.join(t.dataDir, 'bootstrap.json')],
      {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: t.b.caFile },
        timeout: 60_000,
      },
    );
    const seen = JSON.parse(stdout);
    assert.ok(seen.tokenExpires > Date.now());
    assert.equal(seen.created, 'sdk-rg');
    assert.deepEqual(seen.groups.sort(), ['azurestack', 'sdk-rg']);
    assert.equal(seen.byId, `/subscriptions/${t.b.csp.registrationSubscriptionId}/resourceGroups/sdk-rg`);
    assert.equal(seen.exists, true);
    assert.equal(seen.existsAfter, false);
    assert.deepEqual(seen.subs, [t.b.csp.registrationSubscriptionId]);
    assert.deepEqual(seen.tenants, [t.b.csp.tenantId]);
    assert.deepEqual(seen.refused, { statusCode: 404, code: 'SubscriptionNotFound' });
  });
});
