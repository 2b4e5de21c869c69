import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository's folder: the first one above this file that holds package.json. The same
 * whether the tests run from test/ through tsx or compiled into .test-build/ (see test/run.ts).
 */
function repositoryRoot(): string {
  for (let dir = import.meta.dirname; dir !== path.dirname(dir); dir = path.dirname(dir))
    if (existsSync(path.join(dir, 'package.json'))) return dir;
  throw new Error(`no package.json above ${import.meta.dirname}`);
}

export const REPO = repositoryRoot();
