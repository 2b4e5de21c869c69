// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPrivateKey, webcrypto } from 'node:crypto';
import { armStore, type ArmDb } from '../arm/store.ts';
import { DAY_MS } from '../core/clock.ts';
import { newGuid } from '../core/ids.ts';
import { isSealed, type Sealer } from '../core/sealed.ts';
import { certificateThumbprint, type RegistrationSigner } from '../core/registration-token.ts';

// The deployment's registration key: an ECDSA P-256 key pair with a self-signed certificate, made at
// the stack's first start and kept in its settings. The stack signs its registration tokens with the
// private key and publishes the certificate as a key credential of its application (Graph's
// keyCredentials), where the hub finds it to verify them.

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const SETTING = 'registrationSigningKey';

export interface StoredRegistrationKey {
  /** PKCS8 PEM, sealed in the database. Read and written only by the two functions below. */
  privateKeyPem: string;
  certificatePem: string;
  keyId: string;
}

/** What the application publishes: Graph's keyCredential, the certificate as base64 DER. */
export interface RegistrationKeyCredential {
  type: 'AsymmetricX509Cert';
  usage: 'Verify';
  key: string;
  displayName: string;
  customKeyIdentifier: string;
  keyId: string;
}

export interface RegistrationKey {
  signer: RegistrationSigner;
  keyCredential: RegistrationKeyCredential;
}

const PURPOSE = 'registration signing key';

/** The stored key, its private part opened; one kept in plain text (before sealing) is sealed now. */
async function readRegistrationKeySetting(db: ArmDb, sealer: Sealer): Promise<StoredRegistrationKey | undefined> {
  const stored = await armStore.getSetting<StoredRegistrationKey>(db, SETTING);
  if (!stored) return undefined;
  if (isSealed(stored.privateKeyPem)) return { ...stored, privateKeyPem: sealer.open(stored.privateKeyPem, PURPOSE) };
  await writeRegistrationKeySetting(db, sealer, stored);
  return stored;
}

async function writeRegistrationKeySetting(db: ArmDb, sealer: Sealer, stored: StoredRegistrationKey): Promise<void> {
  await armStore.putSetting(db, SETTING, { ...stored, privateKeyPem: sealer.seal(stored.privateKeyPem, PURPOSE) });
}

/** A new key pair and certificate (tests make their own deployments' keys with it too). */
export async function newRegistrationKey(deploymentName: string): Promise<StoredRegistrationKey> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
      .toString('hex')
      .replace(/^[89a-f]/, '1'),
    name: `CN=Stackledger deployment ${deploymentName} registration, O=Stackledger`,
    notBefore: new Date(now - DAY_MS),
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: ALG,
    keys,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true)],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    privateKeyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    certificatePem: certificate.toString('pem'),
    keyId: newGuid(),
  };
}

/** The deployment's registration key, made on the first call and the same ever after. */
export async function loadOrCreateRegistrationKey(
  db: ArmDb,
  sealer: Sealer,
  deploymentName: string,
): Promise<RegistrationKey> {
  let stored = await readRegistrationKeySetting(db, sealer);
  if (!stored) {
    stored = await newRegistrationKey(deploymentName);
    await writeRegistrationKeySetting(db, sealer, stored);
  }
  return registrationKeyOf(stored, deploymentName);
}

export function registrationKeyOf(stored: StoredRegistrationKey, deploymentName: string): RegistrationKey {
  const der = Buffer.from(x509.PemConverter.decode(stored.certificatePem)[0]);
  const thumbprint = certificateThumbprint(der);
  return {
    signer: { alg: 'ES256', kid: thumbprint, privateKey: createPrivateKey(stored.privateKeyPem) },
    keyCredential: {
      type: 'AsymmetricX509Cert',
      usage: 'Verify',
      key: der.toString('base64'),
      displayName: `CN=Stackledger deployment ${deploymentName} registration`,
      customKeyIdentifier: thumbprint,
      keyId: stored.keyId,
    },
  };
}
