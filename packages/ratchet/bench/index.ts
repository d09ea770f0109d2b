/**
 * `npm run bench -w packages/ratchet`: Olm and Megolm against libolm (native C via python3-olm,
 * WebAssembly via libjs-olm). Each protocol's benchmarks live in their own module.
 *
 * The comparisons with libolm run first, while this process has run only the code path a Node
 * application runs (OpenSSL through node:crypto). The rows that force other paths (@noble, the
 * JavaScript base64 codec, mixes) run afterwards, so that whatever they leave behind (V8's
 * inline caches in the shared code made polymorphic, the JavaScript path's garbage) cannot
 * touch the comparisons. This is a precaution: measured directly, the native path after the
 * @noble one ran 0.84–1.26× its speed before it over three runs, inside this machine's noise.
 */
import { benchMegolm, benchMegolmPure } from './megolm.ts';
import { benchOlm } from './olm.ts';
import { benchMixes, benchPrimitives } from './primitives.ts';

await benchOlm();
await benchMegolm();

benchMegolmPure();
benchPrimitives();
benchMixes();
