/**
 * `npm run bench -w packages/ratchet`: Olm and Megolm against libolm (native C via python3-olm,
 * WebAssembly via libjs-olm). Each protocol's benchmarks live in their own module.
 */
import { existsSync } from 'node:fs';

import { benchOlm } from './olm.ts';
import { benchMixes, benchPrimitives } from './primitives.ts';

benchPrimitives();
benchMixes();

await benchOlm();

// The Megolm benchmarks are a separate module; run them when present.
const megolm = new URL('./megolm.ts', import.meta.url);
if (existsSync(megolm)) {
  const module = (await import(megolm.href)) as { benchMegolm?: () => Promise<void> };
  await module.benchMegolm?.();
}
