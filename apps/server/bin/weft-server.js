#!/usr/bin/env node
// The `weft-server` command. The server runs from its TypeScript source (Node ≥ 22.18 strips
// types); `--conditions=weft-source` makes the workspace packages resolve to their source too, so
// no build step stands between a checkout and a running server. Signals are passed on, so a
// SIGTERM to this process shuts the server down gracefully.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = resolve(dirname(fileURLToPath(import.meta.url)), '../src/main.ts');
const child = spawn(
  process.execPath,
  ['--conditions=weft-source', main, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 128 : 1);
});
