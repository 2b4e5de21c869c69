import { randomBytes, randomUUID, createHash, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const newGuid = (): string => randomUUID();
export const isGuid = (s: string): boolean => GUID.test(s);

/**
 * A high-entropy secret, safe to show once and store only as a hash. Never with a leading '-',
 * which command lines (`az login -p …`) read as an option.
 */
export function newSecret(): string {
  for (;;) {
    const secret = randomBytes(30).toString('base64url');
    if (!secret.startsWith('-')) return secret;
  }
}

/** A password that passes common complexity rules (upper, lower, digit, symbol). */
export const newPassword = (): string => `Sl-${randomBytes(12).toString('base64url')}9a!`;

// Client secrets are random 240-bit values, so a fast hash is enough; each is salted, so equal
// secrets never hash alike: sha256(salt + sha256(secret)). The inner digest is what the first
// version stored unsalted, so those rows were salted in place (identity migration 0103).
const digest = (secret: string): Buffer => createHash('sha256').update(secret).digest();

function saltedDigest(inner: Buffer, salt: Buffer): Buffer {
  return createHash('sha256').update(salt).update(inner).digest();
}

export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  return `sha256$${salt.toString('base64url')}$${saltedDigest(digest(secret), salt).toString('base64url')}`;
}

/** A hash of the first version (unsalted sha256, base64url) in today's salted form. */
export function saltLegacySecretHash(legacy: string): string {
  const salt = randomBytes(16);
  return `sha256$${salt.toString('base64url')}$${saltedDigest(Buffer.from(legacy, 'base64url'), salt).toString('base64url')}`;
}

export function secretMatches(secret: string, stored: string): boolean {
  const [scheme, salt, key] = stored.split('$');
  if (scheme !== 'sha256' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = saltedDigest(digest(secret), Buffer.from(salt, 'base64url'));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, 32);
  return `scrypt$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(actual, expected);
}

// A well-formed hash that no password matches: checked when the user does not exist, so that an
// unknown user costs the same time as a wrong password and the answer reveals nothing.
const NO_USER_HASH = `scrypt$${Buffer.alloc(16).toString('base64url')}$${Buffer.alloc(32).toString('base64url')}`;

/** Spends a password check's time on a user that does not exist; always false. */
export async function passwordMatchesNoUser(password: string): Promise<false> {
  await passwordMatches(password, NO_USER_HASH);
  return false;
}

export const isEmail = (s: string): boolean => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);
