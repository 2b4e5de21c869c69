// A fresh install, as a newcomer makes it: the committed sources cloned into a folder whose parent
// is mode 0700 (what `mktemp -d` makes, and what /root is), `npm ci`, then `stackledger up` with its
// data in another 0700 folder. As root (as CI runs) PostgreSQL runs as the OS user `postgres`, which
// must still reach both. A second start on a port in use fails with one line and exit code 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { cli, startBackground, type Background } from './helpers/cli.ts';
import { REPO } from './helpers/repo.ts';

const run = promisify(execFile);
const ROOT = REPO;

describe('a fresh install under a 0700 folder', { timeout: 300_000 }, () => {
  let parent: string;
  let dataParent: string;
  let bin: string;
  let server: Background | undefined;

  before(async () => {
    parent = await mkdtemp(path.join(tmpdir(), 'stackledger-install-'));
    dataParent = await mkdtemp(path.join(tmpdir(), 'stackledger-install-data-'));
    const checkout = path.join(parent, 'stackledger');
    const { stdout: head } = await run('git', ['-C', ROOT, 'rev-parse', 'HEAD']);
    await run('git', ['clone', '--quiet', '--local', '--no-checkout', ROOT, checkout]);
    await run('git', ['-C', checkout, 'checkout', '--quiet', head.trim()]);
    // The real install, from npm's cache when it has the packages (about half a minute).
    await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], {
      cwd: checkout,
      maxBuffer: 16 * 1024 * 1024,
    });
    bin = path.join(checkout, 'bin', 'stackledger.js');
  });
  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    await rm(parent, { recursive: true, force: true });
    await rm(dataParent, { recursive: true, force: true });
  });

  it('starts, prints its endpoints and stops on SIGTERM', async () => {
    assert.equal((await stat(parent)).mode & 0o777, 0o700);
    server = await startBackground(
      ['up', '--port', '0', '--http', '--data', path.join(dataParent, 'data')],
      /Stop with Ctrl\+C/,
      {},
      120_000,
      bin,
    );
    assert.match(server.output(), /hub ARM +http:\/\/127\.0\.0\.1:\d+/);
    // What start-up may change above the checkout is the traverse bit, never the right to list.
    assert.equal((await stat(parent)).mode & 0o044, 0);
    const second = await cli(
      [
        'up',
        '--port',
        /hub ARM +http:\/\/127\.0\.0\.1:(\d+)/.exec(server.output())![1],
        '--http',
        '--data',
        path.join(dataParent, 'second'),
      ],
      {},
      bin,
    );
    assert.equal(second.code, 1, second.stderr);
    assert.match(second.stderr, /^error: Port \d+ on 127\.0\.0\.1 is already in use: .*--port/);
    assert.equal(second.stderr.trim().split('\n').length, 1, `one line, no stack trace:\n${second.stderr}`);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0);
  });
});
