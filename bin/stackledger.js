#!/usr/bin/env node
// Runs the TypeScript sources directly (tsx), so that `npx stackledger` works after `npm install` alone.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
