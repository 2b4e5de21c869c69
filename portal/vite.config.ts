import { defineConfig } from 'vite';

// The portal is served by the hub under /portal/ (same origin as the hub's APIs). Preact's JSX
// through Vite's own transformer: no Babel, no preset plugin.
export default defineConfig({
  base: '/portal/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 200 },
});
