/**
 * The server's production build: `dist/main.js` (what `weft-server` runs) with the workspace
 * packages (@weft/*) bundled from their source, npm dependencies left to node_modules, and each
 * migration as its own module under `dist/migrations/` (they are imported by file name at start),
 * `dist/http-worker.cjs`, the thread that owns the client API's sockets (CommonJS: lighter to
 * start as a worker than a module), and
 * `dist/verify-worker.js`, the worker thread that checks big send_join answers.
 */
import { readdirSync } from 'node:fs';

import { defineConfig } from 'tsup';

const migrations = Object.fromEntries(
  readdirSync('src/storage/migrations')
    .filter((name) => /^\d{4}-[\w-]+\.ts$/.test(name))
    .map((name) => [`migrations/${name.slice(0, -3)}`, `src/storage/migrations/${name}`]),
);

export default defineConfig([
  {
    entry: {
      main: 'src/main.ts',
      // Started as a worker thread by services/federation/membership/verify-parallel.ts.
      'verify-worker': 'src/services/federation/membership/verify-worker.ts',
      ...migrations,
    },
    format: ['esm'],
    platform: 'node',
    target: 'node22',
    // The worker below is built beside this at the same time: its files are not this build's
    // to remove.
    clean: ['!http-worker.cjs', '!http-worker.cjs.map'],
    sourcemap: true,
    dts: false,
    // Keep `node:` specifiers: `node:sqlite` exists only under that name.
    removeNodeProtocol: false,
    noExternal: [/^@weft\//],
    esbuildOptions(options) {
      // Bundle the workspace packages from source (no package build needed first).
      options.conditions = ['weft-source'];
      // V8 keeps each script's source text for the process's life (lazy compilation), and one
      // non-ASCII character in a comment makes the whole text two bytes a character: the main
      // bundle held 1.6 MiB of heap as written. Without comments and indentation it holds
      // ≈ 0.5 MiB; names stay, so stack traces still name functions (line numbers through
      // `--enable-source-maps`).
      options.minifyWhitespace = true;
      options.legalComments = 'none';
    },
  },
  {
    // Started as a worker thread by src/http-thread.ts.
    entry: { 'http-worker': 'src/http-worker.cts' },
    format: ['cjs'],
    platform: 'node',
    target: 'node22',
    sourcemap: true,
    dts: false,
    removeNodeProtocol: false,
    // As the main bundle (above): the thread keeps its source text too.
    esbuildOptions(options) {
      options.minifyWhitespace = true;
      options.legalComments = 'none';
    },
  },
]);
