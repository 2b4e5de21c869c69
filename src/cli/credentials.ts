import { Option, type Command } from 'commander';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writePrivateFile } from '../core/sealed.ts';
import { CliError, runClient, type Connection } from './client.ts';
import { dataOption, jsonOption, print } from './output.ts';

// The system's own credentials: `credentials rotate` gives the CSP's or the operator's application
// a new secret through the directory API (addPassword, as the application itself), writes it to
// bootstrap.json, then revokes every earlier secret (removePassword). The hub holds the new one
// too, so it is the one bootstrap.json gets at the next start.

export interface Rotation {
  as: 'csp' | 'operator';
  clientId: string;
  keyId: string;
  endDateTime: string;
  revoked: string[];
}

export async function rotateCredentials(c: Connection, as: 'csp' | 'operator'): Promise<Rotation> {
  const who = c.bootstrap[as];
  if (!who) throw new CliError(`No ${as} credentials in ${c.dataDir}/bootstrap.json.`);
  const graph = c.bootstrap.hub.graph;
  const token = await c.token(graph, as);
  const appUrl = `${graph}/v1.0/applications/${who.clientId}`;
  const before: { passwordCredentials: Array<{ keyId: string }> } = await c.http.call('GET', appUrl, { token });
  const made = await c.http.call('POST', `${appUrl}/addPassword`, {
    token,
    body: { passwordCredential: { displayName: 'stackledger credentials rotate' } },
  });

  // bootstrap.json names the new secret before the old ones stop working.
  const file = path.resolve(c.dataDir, 'bootstrap.json');
  const saved = JSON.parse(await readFile(file, 'utf8'));
  saved[as].clientSecret = made.secretText;
  await writePrivateFile(file, JSON.stringify(saved, null, 2) + '\n');

  const revoked: string[] = [];
  for (const old of before.passwordCredentials) {
    await c.http.call('POST', `${appUrl}/removePassword`, { token, body: { keyId: old.keyId } });
    revoked.push(old.keyId);
  }
  return { as, clientId: who.clientId, keyId: made.keyId, endDateTime: made.endDateTime, revoked };
}

export function registerCredentialsCommands(program: Command): void {
  const credentials = program
    .command('credentials')
    .description("The system's own credentials (the CSP's and the operator's applications).");
  credentials
    .command('rotate')
    .description('Give the application a new secret, write it to bootstrap.json, and revoke the earlier ones.')
    .addOption(dataOption())
    .addOption(new Option('--as <who>', 'whose application').choices(['csp', 'operator']).default('csp'))
    .addOption(jsonOption())
    .action(async (o: { data: string; as: 'csp' | 'operator'; json?: boolean }) => {
      const r = await runClient(o.data, (c) => rotateCredentials(c, o.as));
      print(
        o.json,
        r,
        () =>
          `The ${r.as}'s application ${r.clientId} has a new secret (key ${r.keyId}, until ${r.endDateTime}), written to bootstrap.json; revoked: ${r.revoked.join(', ') || 'none'}.`,
      );
    });
}
