// Whether dist/ is newer than the sources it is compiled from: no file under src/ (nor any of
// `alsoFrom`, files of the repository) changed after dist/.built was written. bin/stackledger.js
// runs dist/ only then; `npm run build -- --if-stale` builds only otherwise.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function distIsCurrent(alsoFrom = []) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    const built = statSync(`${root}dist/.built`).mtimeMs;
    const sources = [...readdirSync(`${root}src`, { recursive: true }).map((f) => `src/${f}`), ...alsoFrom];
    return sources.every((f) => statSync(root + f).mtimeMs <= built);
  } catch {
    return false;
  }
}
