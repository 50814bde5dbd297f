import { defineConfig, type Plugin } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { LongestFirstSequencer } from './tests/support/sequencer.js';

/**
 * The built app's Content-Security-Policy: scripts and Workers only from the app's own origin (no
 * inline script, no eval), no connections anywhere else. Two allowances, neither of them for
 * JavaScript code: 'wasm-unsafe-eval' lets WebAssembly compile and nothing else (no eval, no
 * `new Function`, unlike 'unsafe-eval'): tfjs's WebAssembly backend, the training Worker's fallback
 * without a GPU, compiles its `.wasm` (served from the app's own assets/, src/worker/wasmBackend.ts),
 * and tfjs's 64-bit integer helper, long.js, compiles a 200-byte module at start-up. The threaded
 * wasm build's `blob:` Workers and scripts stay refused: the app runs the single-threaded build.
 * The other allowance: inline styles (React and Recharts set style attributes). The meta tag covers
 * the page; a Worker takes the policy of its own script's response, so hosts should also send it as
 * a header, as `vite preview` does. `npm start` (the dev server) runs without it: Vite's dev client and React
 * Fast Refresh inject inline scripts and talk to the dev server over a WebSocket.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'none'",
].join('; ');

/** In the built index.html as a meta tag, so that any static host enforces it. */
function contentSecurityPolicy(): Plugin {
  return {
    name: 'content-security-policy',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY }, injectTo: 'head-prepend' }],
  };
}

export default defineConfig({
  plugins: [react(), contentSecurityPolicy()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
  // `vite preview` also sends it as a header, with what only a header can say (no framing by other sites).
  preview: { headers: { 'Content-Security-Policy': `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'` } },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Each file gets its own tfjs engine; two cores in CI, so keep parallelism modest.
    pool: 'forks',
    maxWorkers: 2,
    // The longest files start first (a committed table of their durations; see the sequencer), so
    // that both workers finish together: a clean clone has no vitest cache to order them by.
    sequence: { sequencer: LongestFirstSequencer },
  },
});
