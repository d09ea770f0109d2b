/**
 * Megolm benchmarks: Weft against libolm 3.2.13 as native C (Debian python3-olm, timing its own
 * loop with time.process_time so Python's call overhead is the only extra) and as WebAssembly in
 * this Node process (Debian libjs-olm). Plaintexts are 200 bytes. Prints ops/s and ratios.
 *
 * The machine is shared, so throughput is counted in CPU time of the measuring process
 * (process.cpuUsage here, time.process_time in Python, as bench/olm.ts does), and each figure is
 * the best of ROUNDS slices, all implementations (python3-olm too) taking their slices in turn
 * within each round.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { type Measurement, printComparison } from '@weft/bench';
import { runPython } from '@weft/interop';

import { selectBase64Implementation } from '../src/base64.ts';
import { GroupSession, InboundGroupSession } from '../src/index.ts';
import { selectSigningImplementation } from '../src/megolm/signing.ts';
import { selectPrimitives } from '../src/primitives.ts';

/** The browser path (pure @noble: Ed25519 and the symmetric primitives) or the Node default. */
function selectPure(pure: boolean): void {
  selectSigningImplementation(!pure);
  selectPrimitives(pure ? 'portable' : 'auto');
  selectBase64Implementation(!pure);
}

const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 300);
const ROUNDS = 5;
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
window, op = req["millis"] / 1000, req["op"]
plaintext = "x" * 200
def once(fn):
    n, start = 0, time.process_time()
    now = start
    while now - start < window:
        fn(); n += 1
        if n % 8 == 0: now = time.process_time()
    return n / (now - start)
out = olm.OutboundGroupSession()
key = out.session_key
message = out.encrypt(plaintext)
inbound = olm.InboundGroupSession(key)
fn = {
    "encrypt": lambda: out.encrypt(plaintext),
    "decrypt": lambda: inbound.decrypt(message),
    "inbound": lambda: olm.InboundGroupSession(key),
}[op]
for _ in range(50): fn()
print(json.dumps({"rate": once(fn)}))
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

function cpuMillis(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Operations per CPU second of `fn` over `millis` ms of process CPU time. */
function cpuRate(fn: () => unknown, millis: number): number {
  let iterations = 0;
  const start = cpuMillis();
  let now = start;
  while (now - start < millis) {
    fn();
    iterations += 1;
    // Reading the CPU clock is a system call: check it every few iterations only.
    if (iterations % 8 === 0) now = cpuMillis();
  }
  return (iterations * 1000) / (now - start);
}

/**
 * Peak ops per CPU second of each implementation: best of ROUNDS slices, taking turns; the last
 * figure is libolm C's, one slice of python3-olm's own loop per round (a fresh process each
 * time, after its warm-up), so all of them see the same moments of the machine's load.
 */
function peaks(
  implementations: { ops: Ops; before?: () => void }[],
  op: keyof MegolmFigures,
): number[] {
  const best = [...implementations.map(() => 0), 0];
  for (const { ops, before } of implementations) {
    before?.();
    for (let i = 0; i < 50; i++) ops[op]();
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, { ops, before }] of implementations.entries()) {
      before?.();
      best[i] = Math.max(best[i] as number, cpuRate(ops[op], MILLIS));
    }
    const { rate } = runPython<{ rate: number }>(PYTHON, { millis: MILLIS, op });
    best[implementations.length] = Math.max(best[implementations.length] as number, rate);
  }
  selectPure(false);
  return best;
}

function row(name: string, opsPerSecond: number): Measurement {
  return { name, opsPerSecond, iterations: 0 };
}

/** Runs the Megolm benchmarks and prints Weft's ratio to each libolm build. */
export async function benchMegolm(): Promise<void> {
  const weft = weftOps();
  // The browser path (pure @noble), for the README's second column: its sessions are built with
  // the pure implementation selected, and keep its Ed25519 keys.
  selectPure(true);
  const pure = weftOps();
  selectPure(false);
  const js = await jsOlmOps();
  const titles: Record<keyof MegolmFigures, string> = {
    encrypt: 'Megolm encrypt, 200 bytes (AES-CBC + HMAC + Ed25519 sign + ratchet step)',
    decrypt: 'Megolm decrypt, 200 bytes (Ed25519 verify + HMAC + AES-CBC)',
    inbound: 'Megolm inbound session from a signed session key (Ed25519 verify)',
  };
  for (const key of Object.keys(titles) as (keyof MegolmFigures)[]) {
    const [weftRate, pureRate, jsRate, cRate] = peaks(
      [
        { ops: weft, before: () => selectPure(false) },
        { ops: pure, before: () => selectPure(true) },
        { ops: js },
      ],
      key,
    );
    printComparison(titles[key], row('weft', weftRate as number), [
      row('weft (pure JS)', pureRate as number),
      row('libolm C (python3-olm)', cRate as number),
      row('libjs-olm (wasm)', jsRate as number),
    ]);
  }
}
