// `npm run build`: compiles the server and CLI into dist/, then marks it built. bin/stackledger.js
// runs dist/ only while no source file is newer than the mark (an edited checkout runs its sources).
import { execSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
execSync('tsc -p tsconfig.build.json', { stdio: 'inherit' });
writeFileSync('dist/.built', new Date().toISOString() + '\n');
