/**
 * `npm run bench -w packages/ratchet`: Olm and Megolm against libolm (native C via python3-olm,
 * WebAssembly via libjs-olm). Each protocol's benchmarks live in their own module.
 *
 * The comparisons with libolm run first, while this process has run only the code path a Node
 * application runs (OpenSSL through node:crypto). The rows that force other paths (@noble, the
 * JavaScript base64 codec, mixes) run afterwards: switching paths leaves V8's inline caches in
 * the shared code polymorphic and the heap full of the JavaScript path's garbage, which slowed
 * the native path measured after them (one interleaved run: Olm encrypt + decrypt −16%).
 */
import { benchMegolm, benchMegolmPure } from './megolm.ts';
import { benchOlm } from './olm.ts';
import { benchMixes, benchPrimitives } from './primitives.ts';

await benchOlm();
await benchMegolm();

benchMegolmPure();
benchPrimitives();
benchMixes();
