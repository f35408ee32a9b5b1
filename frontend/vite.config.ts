import { defineConfig } from 'vitest/config';

// The build is embedded into mevid (daemon/), which serves it at "/". Relative
// asset URLs ("./assets/...") keep it working behind a path-prefixing proxy too.
// No request may leave the machine: fonts and libraries are bundled from npm.
//
// `npm run dev` serves the sources with hot reload and proxies /stream and
// /api to a running mevid ($MEVID_URL, default http://127.0.0.1:5001); start
// that mevid with --allow-origin http://localhost:5173 so it accepts the
// proxied websocket.
const mevid = process.env.MEVID_URL ?? 'http://127.0.0.1:5001';

export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '/stream': { target: mevid.replace(/^http/, 'ws'), ws: true },
      '/api': { target: mevid },
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    benchmark: { include: ['bench/**/*.bench.ts'] },
  },
});
