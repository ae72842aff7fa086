// The console's build: `npm run build` writes it to dist/web, which the gateway serves at /.
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [preact()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Hashed file names under /assets: the gateway caches them for a year.
    assetsDir: 'assets',
    // Strict CSP (script-src 'self'): no inline script, no eval, no data: module preload polyfill.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: true,
  },
  server: {
    // `npx vite web` during development, against a gateway on :4000.
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true }, '/backups': 'http://127.0.0.1:4000' },
  },
});
