// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata polyfill.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DAY_MS } from '../core/clock.ts';

// A local certificate authority and a server certificate for the loopback names, so that every
// endpoint speaks HTTPS as the real ones do; clients trust DIR/ca.pem.

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TlsFiles {
  caFile: string;
  key: string;
  cert: string;
  ca: string;
}

async function exportKey(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  return webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(pem)[0], ALG, true, [
    'sign',
  ]) as Promise<CryptoKey>;
}

async function newKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

/** Creates the CA on first use and a server certificate whenever the old one is missing or near its end. */
export async function ensureTls(
  dir: string,
  hostNames: string[] = ['localhost', '127.0.0.1', '::1'],
): Promise<TlsFiles> {
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server-key.pem');
  const now = Date.now();

  if (!existsSync(caFile) || !existsSync(caKeyFile)) {
    const keys = await newKeys();
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      // A name of its own, so that clients trusting several such authorities find the right issuer.
      name: `CN=Stackledger local CA ${serial().slice(0, 8)}, O=Stackledger`,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 3650 * DAY_MS),
      signingAlgorithm: ALG,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    await writeFile(caKeyFile, await exportKey(keys.privateKey), { mode: 0o600 });
    await writeFile(caFile, ca.toString('pem') + '\n');
  }
  const caPem = await readFile(caFile, 'utf8');

  let renew = !existsSync(certFile) || !existsSync(keyFile);
  if (!renew) {
    const current = new x509.X509Certificate(await readFile(certFile, 'utf8'));
    const san = current.getExtension(x509.SubjectAlternativeNameExtension);
    const names = san?.names.items.map((n) => n.value) ?? [];
    renew = current.notAfter.getTime() - now < 30 * DAY_MS || hostNames.some((h) => !names.includes(h));
  }
  if (renew) {
    const caCert = new x509.X509Certificate(caPem);
    const caKey = await importKey(await readFile(caKeyFile, 'utf8'));
    const keys = await newKeys();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial(),
      subject: 'CN=localhost, O=Stackledger',
      issuer: caCert.subject,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 397 * DAY_MS),
      signingAlgorithm: ALG,
      publicKey: keys.publicKey,
      signingKey: caKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hostNames.map((h) => ({ type: /^[\d.]+$|:/.test(h) ? ('ip' as const) : ('dns' as const), value: h })),
        ),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    await writeFile(keyFile, await exportKey(keys.privateKey), { mode: 0o600 });
    await writeFile(certFile, cert.toString('pem') + '\n');
  }
  return { caFile, ca: caPem, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
}
