#!/usr/bin/env node
// The `weft` command. The CLI runs from its TypeScript source (Node ≥ 22.18 strips types);
// `--conditions=weft-source` makes the workspace packages resolve to their source too, so no build
// step is needed. Signals are passed on, so Ctrl-C ends `weft tail` cleanly.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.ts');
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
