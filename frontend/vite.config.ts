import { defineConfig } from 'vitest/config';

// The build goes into the Python package (backupd/web/), which is committed, so that
// `backupd serve` serves the page at / with no Node.js on the machine.
// outDir is relative to this directory (Vite's root).
const outDir = '../backupd/web';
const BACKEND = 'http://127.0.0.1:8000';

/** The one event of Vite's proxy server used below (this project has no @types/node). */
interface ProxyEvents {
  on(
    event: 'proxyReq',
    listener: (
      proxyReq: { setHeader(name: string, value: string): void },
      req: { headers: { origin?: string; host?: string } },
    ) => void,
  ): void;
}

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
    // `npm run dev` talks to a `backupd serve` on the default port. backupd refuses /api requests
    // for a foreign Host and state-changing ones from a foreign Origin (CONTRACT §12), so the proxy
    // sends the backend's own Host (changeOrigin) and, for the page's own requests only, the
    // backend's own Origin. Any other Origin is passed on untouched and refused by backupd, so the
    // dev server cannot be used by another site to reach the backend.
    proxy: {
      '/api': {
        target: BACKEND,
        changeOrigin: true,
        configure(proxy) {
          (proxy as unknown as ProxyEvents).on('proxyReq', (proxyReq, req) => {
            const { origin, host } = req.headers;
            if (origin && host && (origin === `http://${host}` || origin === `https://${host}`)) {
              proxyReq.setHeader('origin', BACKEND);
            }
          });
        },
      },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
    // The page tests wait for real 1 s polls; leave room for a loaded CI machine.
    testTimeout: 20_000,
  },
});
