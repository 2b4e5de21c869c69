import { X509Certificate, type KeyObject } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { isGuid, newGuid } from '../core/ids.ts';
import { certificateThumbprint } from '../core/registration-token.ts';
import { graphErrors } from './graph.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { ApplicationsTable, KeyCredentialsTable } from './tables.ts';

// An application's keyCredentials, as Microsoft Graph has them: certificates whose public keys verify
// what the application signs. A deployment publishes its registration-signing certificate so, and
// the hub verifies its registration tokens with it. Only `AsymmetricX509Cert` for `Verify`: the hub
// never holds an application's private key.

export const KeyCredentialBody = Type.Object({
  type: Type.String(),
  usage: Type.String(),
  /** The certificate, base64 DER (Graph's Edm.Binary). */
  key: Type.String({ minLength: 1 }),
  keyId: Type.Optional(Type.String()),
  displayName: Type.Optional(Type.Union([Type.String({ maxLength: 256 }), Type.Null()])),
  customKeyIdentifier: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 128 }), Type.Null()])),
  startDateTime: Type.Optional(Type.String()),
  endDateTime: Type.Optional(Type.String()),
});
export type KeyCredentialInput = Static<typeof KeyCredentialBody>;

/** More than enough for rolling a key over; the collection is replaced as a whole. */
const MAX_KEY_CREDENTIALS = 16;

/** Graph's shape: the key itself is never returned (`key: null`). */
export function keyCredentialView(row: KeyCredentialsTable) {
  return {
    keyId: row.key_id,
    type: row.type,
    usage: row.usage,
    displayName: row.display_name,
    customKeyIdentifier: row.custom_key_identifier,
    startDateTime: row.start_date_time.toISOString(),
    endDateTime: row.end_date_time.toISOString(),
    key: null,
  };
}

/** The rows of a keyCredentials collection, or 400 naming the first bad entry. */
export function parseKeyCredentials(appId: string, inputs: KeyCredentialInput[], now: Date): KeyCredentialsTable[] {
  if (inputs.length > MAX_KEY_CREDENTIALS)
    throw graphErrors.badRequest(
      `An application holds at most ${MAX_KEY_CREDENTIALS} key credentials.`,
      'keyCredentials',
    );
  const rows = inputs.map((input, i) => {
    const where = `keyCredentials[${i}]`;
    if (input.type !== 'AsymmetricX509Cert')
      throw graphErrors.badRequest(
        `${where}: type '${input.type}' is not supported; use 'AsymmetricX509Cert'.`,
        `${where}.type`,
      );
    if (input.usage !== 'Verify')
      throw graphErrors.badRequest(
        `${where}: usage '${input.usage}' is not supported; use 'Verify'.`,
        `${where}.usage`,
      );
    if (input.keyId !== undefined && !isGuid(input.keyId))
      throw graphErrors.badRequest(`${where}: keyId must be a GUID.`, `${where}.keyId`);
    let certificate: X509Certificate;
    const der = Buffer.from(input.key, 'base64');
    try {
      certificate = new X509Certificate(der);
    } catch {
      throw graphErrors.badRequest(`${where}: key is not a base64-encoded X.509 certificate.`, `${where}.key`);
    }
    const end = new Date(certificate.validTo);
    if (end.getTime() <= now.getTime())
      throw graphErrors.badRequest(`${where}: the certificate expired at ${end.toISOString()}.`, `${where}.key`);
    return {
      key_id: (input.keyId ?? newGuid()).toLowerCase(),
      app_id: appId,
      type: input.type,
      usage: input.usage,
      display_name: input.displayName ?? null,
      custom_key_identifier: input.customKeyIdentifier ?? certificateThumbprint(der),
      certificate: der,
      start_date_time: new Date(certificate.validFrom),
      end_date_time: end,
      created_at: now,
    };
  });
  if (new Set(rows.map((r) => r.key_id)).size !== rows.length)
    throw graphErrors.badRequest('Each key credential needs its own keyId.', 'keyCredentials');
  return rows;
}

/** Replaces an application's key credentials (inside the caller's transaction); answers the views for the activity log. */
export async function replaceKeyCredentials(
  db: IdentityDb,
  app: ApplicationsTable,
  inputs: KeyCredentialInput[],
  now: Date,
) {
  const rows = parseKeyCredentials(app.app_id, inputs, now);
  const before = (await identityStore.keyCredentialsOf(db, app.app_id)).map(keyCredentialView);
  await identityStore.replaceKeyCredentials(db, app.app_id, rows);
  return { before, after: rows.map(keyCredentialView) };
}

export async function keyCredentialViews(db: IdentityDb, appId: string) {
  return (await identityStore.keyCredentialsOf(db, appId)).map(keyCredentialView);
}

/** Who a service principal is, and the public key its application published under `kid`, valid at `at`. */
export interface VerificationKey {
  servicePrincipal: { objectId: string; tenantId: string; appId: string };
  publicKey: KeyObject;
}

/**
 * The key with which to verify what a service principal signed: a `Verify` certificate of its
 * application whose custom key identifier is `kid` and that is valid at `at`; undefined otherwise.
 */
export async function verificationKey(
  db: IdentityDb,
  servicePrincipalId: string,
  kid: string,
  at: Date,
): Promise<VerificationKey | undefined> {
  if (!isGuid(servicePrincipalId)) return undefined;
  const sp = await identityStore.getServicePrincipal(db, servicePrincipalId.toLowerCase());
  if (!sp) return undefined;
  const credential = (await identityStore.keyCredentialsOf(db, sp.app_id)).find(
    (k) => k.custom_key_identifier === kid && k.usage === 'Verify' && k.start_date_time <= at && at < k.end_date_time,
  );
  if (!credential) return undefined;
  return {
    servicePrincipal: { objectId: sp.object_id, tenantId: sp.tenant_id, appId: sp.app_id },
    publicKey: new X509Certificate(credential.certificate).publicKey,
  };
}
