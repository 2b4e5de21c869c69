// `npm run build`: compiles the server and CLI into dist/, then marks it built. bin/stackledger.js
// runs dist/ only while no source file is newer than the mark (an edited checkout runs its sources).
// `--if-stale` (what `npm test` runs) builds only when some source file is newer than the mark, as
// after an edit; a fresh install's dist (built by `npm install`) is used as it is.
import { execSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { distIsCurrent } from './dist-current.mjs';

if (
  process.argv.includes('--if-stale') &&
  distIsCurrent(['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'])
) {
  process.stdout.write('dist/ is current: no build needed\n');
} else {
  rmSync('dist', { recursive: true, force: true });
  execSync('tsc -p tsconfig.build.json', { stdio: 'inherit' });
  writeFileSync('dist/.built', new Date().toISOString() + '\n');
}
