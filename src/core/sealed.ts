import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

// Secrets the system must present or hand out again (its signing key, its own credentials) are
// kept in the database sealed: AES-256-GCM under a key that is never in the database, so that a
// dump alone grants nothing. The key is STACKLEDGER_SECRETS_KEY (base64, 32 bytes) in production,
// else DIR/keys/secrets.key (mode 0600), made on first start.

export const SECRETS_KEY_ENV = 'STACKLEDGER_SECRETS_KEY';
const PREFIX = 'sealed.v1.';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export const isSealed = (value: unknown): value is string => typeof value === 'string' && value.startsWith(PREFIX);

export class Sealer {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) throw new Error(`a secrets key has ${KEY_BYTES} bytes, not ${key.length}`);
    this.#key = key;
  }

  /**
   * Encrypts a text. `purpose` is authenticated with it, so that a sealed value copied into
   * another field does not open there.
   */
  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** Decrypts what `seal` made for the same purpose; anything else (another key, tampering) throws. */
  open(sealed: string, purpose: string): string {
    if (!isSealed(sealed)) throw new Error('not a sealed value');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('a sealed value is too short');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(
        `a sealed value (${purpose}) does not open with this secrets key: is it the key this data was sealed with?`,
      );
    }
  }
}

export const secretsKeyFile = (dataDir: string) => path.join(dataDir, 'keys', 'secrets.key');

function decodeKey(text: string, from: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== KEY_BYTES)
    throw new Error(`${from} must hold ${KEY_BYTES} random bytes in base64 (it holds ${key.length})`);
  return key;
}

/** The process's sealer: from the environment if set, else from the data folder's key file, made on first use. */
export async function loadSealer(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Sealer> {
  const fromEnv = env[SECRETS_KEY_ENV];
  if (fromEnv) return new Sealer(decodeKey(fromEnv, SECRETS_KEY_ENV));
  const file = secretsKeyFile(dataDir);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // `wx`: two processes starting on one folder never overwrite each other's key.
    await writeFile(file, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  await chmod(path.dirname(file), 0o700);
  await chmod(file, 0o600);
  return new Sealer(decodeKey(await readFile(file, 'utf8'), file));
}

/**
 * Writes a file readable by its owner only (credentials, the simulated clock), even if it existed
 * with another mode: whole or not at all (written beside it, synced to disk, renamed over it), so a
 * reader, or a start after a crash, finds the old text or the new, never part of one.
 */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const next = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    const handle = await open(next, 'w', 0o600);
    try {
      await handle.chmod(0o600);
      await handle.writeFile(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(next, file);
  } catch (e) {
    await rm(next, { force: true });
    throw e;
  }
}
