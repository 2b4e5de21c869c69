#!/usr/bin/env node
// Runs the compiled server, or the TypeScript sources directly (tsx), so that `npx stackledger` works after `npm install` alone.
// What can go wrong before any of our code runs gets one line that says what to do.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 18)) {
  process.stderr.write(`error: Stackledger needs Node.js 20.18 or later; this is ${process.versions.node}.\n`);
  process.exit(1);
}
// The compiled dist/ (made by `npm install`, see scripts/prepare.mjs), bundled into an entry and a
// few chunks, loads in a fraction of the sources' time; it is used only while no source file is
// newer than it, so an edited checkout runs its sources.
import { existsSync } from 'node:fs';
import { distIsCurrent } from '../scripts/dist-current.mjs';

const bundle = new URL('../dist/bundle/stackledger.mjs', import.meta.url);
if (distIsCurrent()) {
  // (a dist/ built before the bundle was made has none)
  await import(existsSync(bundle) ? bundle.href : '../dist/cli/main.js');
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(
      "error: Stackledger's dependencies are not installed: run 'npm install' in its folder first.\n",
    );
    process.exit(1);
  }
  register();
  await import('../src/cli/main.ts');
}
