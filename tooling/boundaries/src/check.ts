/** `npm run check:boundaries`: fails when a workspace imports what the rules forbid. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { checkBoundaries } from './rules.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const problems = checkBoundaries(root);
for (const problem of problems) console.error(`boundaries: ${problem}`);
console.log(problems.length === 0 ? 'boundaries: ok' : `boundaries: ${problems.length} problem(s)`);
process.exitCode = problems.length === 0 ? 0 : 1;
