// Debian's Azure CLI (az) as a child process, each command in the config folder it is given, with
// our CA added to the system's (REQUESTS_CA_BUNDLE, the vendor's way for a deployment's own CA).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { UndeclaredJson } from '../../src/core/http-client.ts';

const SYSTEM_CAS = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];
const AZ = process.env.AZ_PATH ?? '/usr/bin/az';

export interface AzResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: UndeclaredJson;
}

export interface AzureCli {
  /** One az command; `--output json` unless it prints nothing. `env` adds to its environment (HOME, say). */
  az(configDir: string, args: string[], env?: Record<string, string>): Promise<AzResult>;
  /** An az command that must succeed; its JSON output. */
  ok(configDir: string, args: string[], env?: Record<string, string>): Promise<UndeclaredJson>;
  /** How many az commands ran. */
  count(): number;
}

/** The CLI, trusting the CA file `caFile` (written with the system's CAs to `dataDir/ca-bundle.pem`). */
export async function azureCli(dataDir: string, caFile: string): Promise<AzureCli> {
  if (!existsSync(AZ))
    throw new Error("No Azure CLI found: install Debian's `azure-cli` (apt-get install -y azure-cli) or set AZ_PATH.");
  const system = SYSTEM_CAS.find((f) => existsSync(f));
  const bundle = path.join(dataDir, 'ca-bundle.pem');
  await writeFile(bundle, [system ? readFileSync(system, 'utf8') : '', readFileSync(caFile, 'utf8')].join('\n'));
  let calls = 0;
  const az = (configDir: string, args: string[], env: Record<string, string> = {}): Promise<AzResult> =>
    new Promise((resolve, reject) => {
      calls++;
      const child = spawn(AZ, [...args, '--only-show-errors'], {
        env: {
          ...process.env,
          AZURE_CONFIG_DIR: configDir,
          REQUESTS_CA_BUNDLE: bundle,
          AZURE_CORE_COLLECT_TELEMETRY: 'false',
          AZURE_CORE_OUTPUT: 'json',
          ...env,
        },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code) => {
        let json: UndeclaredJson;
        try {
          json = stdout.trim() ? JSON.parse(stdout) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ code, stdout, stderr, json });
      });
    });
  const ok = async (configDir: string, args: string[], env?: Record<string, string>) => {
    const res = await az(configDir, args, env);
    assert.equal(res.code, 0, `az ${args.join(' ')}\n${res.stderr}${res.stdout}`);
    return res.json;
  };
  return { az, ok, count: () => calls };
}
