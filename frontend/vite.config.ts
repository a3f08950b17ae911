import { defineConfig } from 'vitest/config';

// The build goes into the Python package (backupd/web/), which is committed, so that
// `backupd serve` serves the page at / with no Node.js on the machine.
// outDir is relative to this directory (Vite's root).
const outDir = '../backupd/web';

export default defineConfig({
  base: '/',
  build: {
    outDir,
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
    rolldownOptions: {
      onwarn(warning, warn) {
        // TanStack Query's "use client" markers mean nothing in a client-only bundle.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev` talks to a `backupd serve` on the default port.
    proxy: { '/api': 'http://127.0.0.1:8000' },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // The page tests wait for real 1 s polls; leave room for a loaded CI machine.
    testTimeout: 20_000,
  },
});
