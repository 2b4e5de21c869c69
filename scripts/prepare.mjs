// `npm install` runs this (prepare): it compiles the server and CLI into dist/ (so a command starts
// on plain Node.js instead of compiling every module as it loads) and builds the portal into
// portal/dist. The build tools are dev dependencies; an install without them (`--omit=dev`) keeps
// going: the CLI then runs the TypeScript sources through tsx, and the portal can be built later.
import { execSync } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const has = (name) => {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
};

if (has('typescript')) execSync('npm run build', { stdio: 'inherit' });
if (has('vite') && has('typescript')) {
  execSync('npm run build:portal', { stdio: 'inherit' });
} else {
  process.stderr.write(
    'stackledger: the portal was not built (its build tools are dev dependencies); run `npm install` with them, then `npm run build:portal`.\n',
  );
}
