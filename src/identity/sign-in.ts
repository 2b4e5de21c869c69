import { setTimeout as sleep } from 'node:timers/promises';
import { passwordMatches, passwordMatchesNoUser, secretMatches } from '../core/ids.ts';
import { isLocked, oauthErrors, type SignInPolicy } from './rules.ts';
import { identityStore, type IdentityDb } from './store.ts';
import type { UsersTable } from './tables.ts';

// Checking what a client presents at the token endpoint. Lock-outs and credential lifetimes keep
// real time, like tokens. A refusal never says whether the user exists.

/** An application's secret: one of its live secrets, else a refusal after a short delay (an application never locks). */
export async function checkClientSecret(
  db: IdentityDb,
  appId: string,
  secret: string,
  policy: SignInPolicy,
): Promise<void> {
  const hashes = await identityStore.liveSecretHashes(db, appId, new Date());
  if (hashes.some((h) => secretMatches(secret, h))) return;
  await sleep(policy.badSecretDelayMs);
  throw oauthErrors.badSecret(appId);
}

/**
 * The member account that signs in with this name and password. A locked account is refused
 * before its password is checked; enough wrong passwords in a row lock it; an unknown name costs
 * the same time and gets the same answer as a wrong password.
 */
export async function checkPassword(
  db: IdentityDb,
  userName: string,
  password: string,
  policy: SignInPolicy,
): Promise<UsersTable> {
  const now = new Date();
  const member = await identityStore.findMemberByUpn(db, userName);
  if (!member?.password_hash) {
    await passwordMatchesNoUser(password);
    throw oauthErrors.badPassword();
  }
  if (isLocked(member, now)) throw oauthErrors.locked();
  if (!(await passwordMatches(password, member.password_hash))) {
    await identityStore.recordFailedSignIn(
      db,
      member.object_id,
      policy.lockoutThreshold,
      new Date(now.getTime() + policy.lockoutMs),
    );
    throw oauthErrors.badPassword();
  }
  await identityStore.clearFailedSignIns(db, member.object_id);
  if (!member.account_enabled) throw oauthErrors.disabled();
  return member;
}
