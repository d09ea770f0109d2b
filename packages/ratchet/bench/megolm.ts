/**
 * Megolm benchmarks: Weft against libolm 3.2.13 as native C (Debian python3-olm, timing its own
 * loop with time.perf_counter so Python's call overhead is the only extra) and as WebAssembly in
 * this Node process (Debian libjs-olm). Plaintexts are 200 bytes. Prints ops/s and ratios.
 *
 * The machine is shared, so each figure is the best of ROUNDS short windows (the peak rate, the
 * least disturbed by other load), and the JS implementations take their windows in turn within
 * each round; the Python peer uses the same best-of-windows estimator.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { type Measurement, measure, printComparison } from '@weft/bench';
import { runPython } from '@weft/interop';

import { GroupSession, InboundGroupSession } from '../src/index.ts';
import { selectSigningImplementation } from '../src/megolm/signing.ts';

const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 1000);
const ROUNDS = 40;
const PLAINTEXT = 'x'.repeat(200);

interface JsOutbound {
  create(): void;
  encrypt(plaintext: string): string;
  session_key(): string;
  free(): void;
}
interface JsInbound {
  create(sessionKey: string): void;
  decrypt(message: string): { plaintext: string; message_index: number };
  free(): void;
}
interface JsOlm {
  init(options: { wasmBinary: Uint8Array }): Promise<void>;
  OutboundGroupSession: new () => JsOutbound;
  InboundGroupSession: new () => JsInbound;
}

/** What every implementation reports, in ops/s. */
interface MegolmFigures {
  encrypt: number;
  decrypt: number;
  inbound: number;
}

const PYTHON = `
import json, sys, time, olm
req = json.load(sys.stdin)
window, rounds = req["millis"] / 1000 / req["rounds"], req["rounds"]
plaintext = "x" * 200
def once(fn):
    n, start = 0, time.perf_counter()
    while True:
        fn(); n += 1
        now = time.perf_counter()
        if now - start >= window: return n / (now - start)
def rate(fn):
    once(fn)
    return max(once(fn) for _ in range(rounds))
out = olm.OutboundGroupSession()
key = out.session_key
message = out.encrypt(plaintext)
inbound = olm.InboundGroupSession(key)
figures = {}
figures["encrypt"] = rate(lambda: out.encrypt(plaintext))
figures["decrypt"] = rate(lambda: inbound.decrypt(message))
figures["inbound"] = rate(lambda: olm.InboundGroupSession(key))
print(json.dumps(figures))
`;

type Ops = Record<keyof MegolmFigures, () => unknown>;

function weftOps(): Ops {
  const outbound = GroupSession.create();
  const key = outbound.sessionKey();
  const message = outbound.encrypt(PLAINTEXT);
  const inbound = InboundGroupSession.fromSessionKey(key);
  return {
    encrypt: () => outbound.encrypt(PLAINTEXT),
    decrypt: () => inbound.decrypt(message),
    inbound: () => InboundGroupSession.fromSessionKey(key),
  };
}

async function jsOlmOps(): Promise<Ops> {
  const require = createRequire(import.meta.url);
  const Olm = require('/usr/share/nodejs/@matrix-org/olm/olm.js') as JsOlm;
  await Olm.init({ wasmBinary: readFileSync('/usr/share/nodejs/@matrix-org/olm/olm.wasm') });
  const outbound = new Olm.OutboundGroupSession();
  outbound.create();
  const key = outbound.session_key();
  const message = outbound.encrypt(PLAINTEXT);
  const inbound = new Olm.InboundGroupSession();
  inbound.create(key);
  return {
    encrypt: () => outbound.encrypt(PLAINTEXT),
    decrypt: () => inbound.decrypt(message),
    inbound: () => {
      const session = new Olm.InboundGroupSession();
      session.create(key);
      session.free();
    },
  };
}

/** Peak ops/s of each implementation: best of ROUNDS windows, implementations taking turns. */
function peaks(
  implementations: { ops: Ops; before?: () => void }[],
  op: keyof MegolmFigures,
): number[] {
  const best = implementations.map(() => 0);
  const window = MILLIS / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, { ops, before }] of implementations.entries()) {
      before?.();
      const rate = measure('', ops[op], window).opsPerSecond;
      best[i] = Math.max(best[i] as number, rate);
    }
  }
  selectSigningImplementation(true);
  return best;
}

function row(name: string, opsPerSecond: number): Measurement {
  return { name, opsPerSecond, iterations: 0 };
}

/** Runs the Megolm benchmarks and prints Weft's ratio to each libolm build. */
export async function benchMegolm(): Promise<void> {
  const weft = weftOps();
  // The browser path (pure @noble/curves Ed25519), for the README's second column: its sessions
  // are built with the pure implementation selected, and keep it.
  selectSigningImplementation(false);
  const pure = weftOps();
  selectSigningImplementation(true);
  const js = await jsOlmOps();
  const native = runPython<MegolmFigures>(PYTHON, { millis: MILLIS, rounds: ROUNDS });
  const titles: Record<keyof MegolmFigures, string> = {
    encrypt: 'Megolm encrypt, 200 bytes (AES-CBC + HMAC + Ed25519 sign + ratchet step)',
    decrypt: 'Megolm decrypt, 200 bytes (Ed25519 verify + HMAC + AES-CBC)',
    inbound: 'Megolm inbound session from a signed session key (Ed25519 verify)',
  };
  for (const key of Object.keys(titles) as (keyof MegolmFigures)[]) {
    const [weftRate, pureRate, jsRate] = peaks(
      [
        { ops: weft, before: () => selectSigningImplementation(true) },
        { ops: pure, before: () => selectSigningImplementation(false) },
        { ops: js },
      ],
      key,
    );
    printComparison(titles[key], row('weft', weftRate as number), [
      row('weft (pure JS)', pureRate as number),
      row('libolm C (python3-olm)', native[key]),
      row('libjs-olm (wasm)', jsRate as number),
    ]);
  }
}
