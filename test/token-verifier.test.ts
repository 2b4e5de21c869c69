// The hub's bearer tokens verified once and kept (`HubTokenVerifier`): a kept token is still
// refused once it expires or for another audience, and a token whose signature differs from a
// kept one by a byte is verified afresh and refused. Real RS256 keys, real signatures.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { ArmError } from '../src/core/errors.ts';
import { HubTokenVerifier } from '../src/core/tokens.ts';

const LOGIN = 'https://login.example.test';
const TENANT = '11111111-1111-1111-1111-111111111111';
const AUDIENCE = 'https://management.example.test/';

async function signer() {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const keys = createLocalJWKSet({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] });
  const sign = (claims: Record<string, unknown>, issuedAt: Date, lifetimeS: number) =>
    new SignJWT({ tid: TENANT, oid: '22222222-2222-2222-2222-222222222222', idtyp: 'app', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(`${LOGIN}/${TENANT}/`)
      .setAudience(AUDIENCE)
      .setIssuedAt(Math.floor(issuedAt.getTime() / 1000))
      .setExpirationTime(Math.floor(issuedAt.getTime() / 1000) + lifetimeS)
      .sign(privateKey);
  return { keys, sign };
}

/** A verifier on a clock the test moves, and a token it has verified (and so keeps). */
async function keptToken(clock: () => Date) {
  const { keys, sign } = await signer();
  const verifier = new HubTokenVerifier(keys, () => LOGIN, clock);
  const token = await sign({}, clock(), 3600);
  assert.equal((await verifier.verify(token, [AUDIENCE])).tenantId, TENANT);
  return { verifier, token, sign };
}

async function refusal(work: Promise<unknown>): Promise<string> {
  const e = await work.then(
    () => assert.fail('the token was accepted'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof ArmError, String(e));
  return e.code;
}

describe('bearer tokens verified once and kept', () => {
  it('refuses a kept token once it expires, and answers it until then', async () => {
    let now = new Date('2026-12-03T10:00:00Z');
    const { verifier, token } = await keptToken(() => now);
    // Kept: still answered within its lifetime and the 30 s of leeway.
    now = new Date('2026-12-03T11:00:29Z');
    assert.equal((await verifier.verify(token, [AUDIENCE])).tenantId, TENANT);
    now = new Date('2026-12-03T11:00:31Z');
    assert.equal(await refusal(verifier.verify(token, [AUDIENCE])), 'ExpiredAuthenticationToken');
    // And again (it is no longer kept).
    assert.equal(await refusal(verifier.verify(token, [AUDIENCE])), 'ExpiredAuthenticationToken');
  });

  it('checks a kept token against each request audience', async () => {
    const { verifier, token } = await keptToken(() => new Date('2026-12-03T10:00:00Z'));
    assert.equal(
      await refusal(verifier.verify(token, ['https://other.example.test/'])),
      'InvalidAuthenticationTokenAudience',
    );
  });

  it('verifies afresh a token that differs from a kept one, and refuses a forged signature', async () => {
    const now = new Date('2026-12-03T10:00:00Z');
    const { verifier, token, sign } = await keptToken(() => now);
    const [header, payload, signature] = token.split('.');
    // Another body under the kept token's signature.
    const otherBody = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), oid: 'forged' }),
    ).toString('base64url');
    assert.equal(
      await refusal(verifier.verify(`${header}.${otherBody}.${signature}`, [AUDIENCE])),
      'InvalidAuthenticationToken',
    );
    // The kept token's body under another key's signature.
    const other = await signer();
    const forged = await other.sign({}, now, 3600);
    assert.equal(
      await refusal(verifier.verify(`${header}.${payload}.${forged.split('.')[2]}`, [AUDIENCE])),
      'InvalidAuthenticationToken',
    );
    // A token not yet valid (nbf ahead) is refused even after a kept one of the same subject.
    const early = await sign({ nbf: Math.floor(now.getTime() / 1000) + 600 }, now, 3600);
    assert.equal(await refusal(verifier.verify(early, [AUDIENCE])), 'InvalidAuthenticationToken');
  });
});
