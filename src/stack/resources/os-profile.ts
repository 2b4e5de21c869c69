import { armErrors } from '../../core/errors.ts';
import { resourceErrors } from './rules.ts';

// A VM's osProfile as the Compute RP checks and keeps it. The administrator signs in with a
// password or, on Linux, with SSH public keys (`az vm create --generate-ssh-keys|--ssh-key-values`
// sends `linuxConfiguration.ssh.publicKeys` with password authentication disabled). The password
// is checked and never kept; public keys are kept as given, and only keys in OpenSSH's public
// format pass, so nothing private is ever stored or shown.

/** The osProfile of a PUT as a client sends it: JSON, so any part may be missing or of another type. */
export interface OsProfileRequest {
  computerName?: unknown;
  adminUsername?: unknown;
  adminPassword?: unknown;
  windowsConfiguration?: unknown;
  linuxConfiguration?: unknown;
}

export interface SshPublicKey {
  path: string;
  keyData: string;
}

export interface LinuxConfiguration {
  disablePasswordAuthentication: boolean;
  provisionVMAgent: boolean;
  ssh?: { publicKeys: SshPublicKey[] };
}

export interface WindowsConfiguration {
  provisionVMAgent: boolean;
  enableAutomaticUpdates: boolean;
}

export interface StoredOsProfile {
  computerName: unknown;
  adminUsername: unknown;
  linuxConfiguration?: LinuxConfiguration;
  windowsConfiguration?: WindowsConfiguration;
}

const MAX_KEYS = 10;
const MAX_KEY_LENGTH = 8192;
const MIN_RSA_BITS = 2048;
const KEY_TYPES = ['ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'];
const TARGET = 'properties.osProfile';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON value that must be an object (or absent): ARM's deserializer refuses anything else. */
function objectAt(value: unknown, target: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value))
    throw armErrors.invalidRequestContent(`The request content was invalid: '${target}' must be an object.`, target);
  return value;
}

function booleanAt(value: unknown, fallback: boolean, target: string): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean')
    throw armErrors.invalidRequestContent(
      `The request content was invalid: '${target}' must be true or false.`,
      target,
    );
  return value;
}

/** An SSH wire-format string (uint32 length, bytes) at `offset`, or undefined past the end. */
function sshString(blob: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > blob.length) return undefined;
  const length = blob.readUInt32BE(offset);
  if (offset + 4 + length > blob.length) return undefined;
  return { value: blob.subarray(offset + 4, offset + 4 + length), next: offset + 4 + length };
}

/**
 * Whether a text is one OpenSSH public key (`type base64 [comment]`) whose blob names the same
 * type, RSA keys of at least 2048 bits, as the Compute RP takes them.
 */
export function isOpenSshPublicKey(text: string): boolean {
  if (text.length > MAX_KEY_LENGTH) return false;
  const match = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: [^\r\n]*)?$/.exec(text.trim());
  if (!match || !KEY_TYPES.includes(match[1])) return false;
  const blob = Buffer.from(match[2], 'base64');
  const type = sshString(blob, 0);
  if (!type || type.value.toString('latin1') !== match[1]) return false;
  if (match[1] !== 'ssh-rsa') return type.next < blob.length;
  const exponent = sshString(blob, type.next);
  const modulus = exponent && sshString(blob, exponent.next);
  if (!modulus) return false;
  const bytes = modulus.value[0] === 0 ? modulus.value.length - 1 : modulus.value.length;
  return bytes * 8 >= MIN_RSA_BITS;
}

function publicKeysOf(ssh: Record<string, unknown> | undefined, adminUsername: unknown): SshPublicKey[] {
  const target = `${TARGET}.linuxConfiguration.ssh.publicKeys`;
  const list = ssh?.publicKeys;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list))
    throw armErrors.invalidRequestContent(`The request content was invalid: '${target}' must be an array.`, target);
  if (list.length > MAX_KEYS)
    throw resourceErrors.invalidParameter(`A VM takes at most ${MAX_KEYS} SSH public keys.`, target);
  const home = `/home/${String(adminUsername)}/.ssh/authorized_keys`;
  return list.map((entry, i) => {
    const key = objectAt(entry, `${target}[${i}]`) ?? {};
    if (typeof key.keyData !== 'string' || !isOpenSshPublicKey(key.keyData))
      throw resourceErrors.invalidParameter(
        'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid: it must be an SSH public key in OpenSSH format (ssh-rsa of at least 2048 bits, ssh-ed25519 or ecdsa-sha2).',
        `${target}[${i}].keyData`,
      );
    if (key.path !== undefined && key.path !== null && key.path !== home)
      throw resourceErrors.invalidParameter(
        `Destination path for SSH public keys is currently limited to its default value ${home} due to a known issue in Linux provisioning agent.`,
        `${target}[${i}].path`,
      );
    return { path: home, keyData: key.keyData };
  });
}

/** A password given (null is none, as the RP reads it); its rule is checked first. */
const hasPassword = (os: OsProfileRequest) => typeof os.adminPassword === 'string';

function linuxConfigurationOf(os: OsProfileRequest): LinuxConfiguration {
  const target = `${TARGET}.linuxConfiguration`;
  const config = objectAt(os.linuxConfiguration, target) ?? {};
  const disablePassword = booleanAt(
    config.disablePasswordAuthentication,
    false,
    `${target}.disablePasswordAuthentication`,
  );
  const keys = publicKeysOf(objectAt(config.ssh, `${target}.ssh`), os.adminUsername);
  if (disablePassword && keys.length === 0)
    throw resourceErrors.invalidParameter(
      'Authentication using either SSH or by user name and password must be enabled in Linux profile.',
      target,
    );
  if (!disablePassword && !hasPassword(os))
    throw resourceErrors.invalidParameter(
      "Required parameter 'adminPassword' is missing (null).",
      `${TARGET}.adminPassword`,
    );
  return {
    disablePasswordAuthentication: disablePassword,
    provisionVMAgent: booleanAt(config.provisionVMAgent, true, `${target}.provisionVMAgent`),
    ...(keys.length > 0 ? { ssh: { publicKeys: keys } } : {}),
  };
}

function windowsConfigurationOf(os: OsProfileRequest): WindowsConfiguration {
  const target = `${TARGET}.windowsConfiguration`;
  const config = objectAt(os.windowsConfiguration, target) ?? {};
  if (!hasPassword(os))
    throw resourceErrors.invalidParameter(
      "Required parameter 'adminPassword' is missing (null).",
      `${TARGET}.adminPassword`,
    );
  return {
    provisionVMAgent: booleanAt(config.provisionVMAgent, true, `${target}.provisionVMAgent`),
    enableAutomaticUpdates: booleanAt(config.enableAutomaticUpdates, true, `${target}.enableAutomaticUpdates`),
  };
}

/**
 * The osProfile a new VM keeps: its computer and administrator names and its OS's configuration;
 * undefined when the request names neither (a VM without an OS profile stays accepted).
 */
export function acceptOsProfile(input: unknown, osType: 'Windows' | 'Linux'): StoredOsProfile | undefined {
  const os: OsProfileRequest = objectAt(input, TARGET) ?? {};
  const password = os.adminPassword;
  if (password !== undefined && password !== null && (typeof password !== 'string' || password.length < 8)) {
    throw resourceErrors.invalidParameter(
      'The supplied password must be between 8-123 characters long and must satisfy at least 3 of password complexity requirements.',
      `${TARGET}.adminPassword`,
    );
  }
  if (!os.computerName && !os.adminUsername) return undefined;
  return {
    computerName: os.computerName,
    adminUsername: os.adminUsername,
    ...(osType === 'Windows'
      ? { windowsConfiguration: windowsConfigurationOf(os) }
      : { linuxConfiguration: linuxConfigurationOf(os) }),
  };
}
