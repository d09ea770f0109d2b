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

import { selectBase64Implementation } from '../src/base64.ts';
import { GroupSession, InboundGroupSession } from '../src/index.ts';
import { selectSigningImplementation } from '../src/megolm/signing.ts';
import { selectPrimitives } from '../src/primitives.ts';
import { type PythonSlices, startPythonSlices } from './python-slices.ts';

/** The browser path (pure @noble: Ed25519 and the symmetric primitives) or the Node default. */
function selectPure(pure: boolean): void {
  selectSigningImplementation(!pure);
  selectPrimitives(pure ? 'portable' : 'auto');
  selectBase64Implementation(!pure);
}

const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 150);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 12);
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

// libolm C's operations, run by the long-lived python3-olm process (`python-slices.ts`).
const PYTHON_SETUP = `
plaintext = "x" * 200
out = olm.OutboundGroupSession()
key = out.session_key
message = out.encrypt(plaintext)
inbound = olm.InboundGroupSession(key)
ops["encrypt"] = lambda: out.encrypt(plaintext)
ops["decrypt"] = lambda: inbound.decrypt(message)
ops["inbound"] = lambda: olm.InboundGroupSession(key)
`;

type Ops = Record<keyof MegolmFigures, () => unknown>;

function weftOps(): Ops {
  const outbound = GroupSession.create();
  const key = outbound.sessionKey();
  const message = outbound.encrypt(PLAINTEXT);
  const inbound = InboundGroupSession.fromSessionKey(key);
  // The plaintext is decoded to a string, as libjs-olm's and python3-olm's `decrypt` return it.
  const decoder = new TextDecoder();
  return {
    encrypt: () => outbound.encrypt(PLAINTEXT),
    decrypt: () => decoder.decode(inbound.decrypt(message).plaintext),
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
 * Peak ops per CPU second of Weft, libjs-olm and libolm C: best of ROUNDS slices, taking turns
 * (libolm C's slice runs in the long-lived python3-olm process), so all of them see the same
 * moments of the machine's load.
 */
async function peaks(
  weft: Ops,
  js: Ops,
  python: PythonSlices,
  op: keyof MegolmFigures,
): Promise<[number, number, number]> {
  for (let i = 0; i < 50; i++) {
    weft[op]();
    js[op]();
  }
  let best: [number, number, number] = [0, 0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    const weftRate = cpuRate(weft[op], MILLIS);
    const jsRate = cpuRate(js[op], MILLIS);
    const cRate = await python.slice(op, MILLIS);
    best = [Math.max(best[0], weftRate), Math.max(best[1], jsRate), Math.max(best[2], cRate)];
  }
  return best;
}

/**
 * The browser path (pure @noble, the JavaScript base64 codec) against Node's, taking turns slice
 * by slice; best of ROUNDS each. Run after every comparison with libolm and never between their
 * slices (see index.ts): a Node application runs the native path only.
 */
function pureAgainstNative(op: keyof MegolmFigures, weft: Ops, pure: Ops): [number, number] {
  selectPure(true);
  for (let i = 0; i < 20; i++) pure[op]();
  selectPure(false);
  for (let i = 0; i < 50; i++) weft[op]();
  let best: [number, number] = [0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    selectPure(false);
    const native = cpuRate(weft[op], MILLIS);
    selectPure(true);
    const portable = cpuRate(pure[op], MILLIS);
    best = [Math.max(best[0], native), Math.max(best[1], portable)];
  }
  selectPure(false);
  return best;
}

function row(name: string, opsPerSecond: number): Measurement {
  return { name, opsPerSecond, iterations: 0 };
}

const TITLES: Record<keyof MegolmFigures, string> = {
  encrypt: 'Megolm encrypt, 200 bytes (AES-CBC + HMAC + Ed25519 sign + ratchet step)',
  decrypt: 'Megolm decrypt, 200 bytes (Ed25519 verify + HMAC + AES-CBC)',
  inbound: 'Megolm inbound session from a signed session key (Ed25519 verify)',
};

/** Runs the Megolm benchmarks and prints Weft's ratio to each libolm build. */
export async function benchMegolm(): Promise<void> {
  const weft = weftOps();
  const js = await jsOlmOps();
  const python = await startPythonSlices(PYTHON_SETUP);
  try {
    for (const key of Object.keys(TITLES) as (keyof MegolmFigures)[]) {
      const [weftRate, jsRate, cRate] = await peaks(weft, js, python, key);
      printComparison(TITLES[key], row('weft', weftRate), [
        row('libolm C (python3-olm)', cRate),
        row('libjs-olm (wasm)', jsRate),
      ]);
    }
  } finally {
    python.close();
  }
}

/** The browser path's Megolm figures against Node's (run after every libolm comparison). */
export function benchMegolmPure(): void {
  const weft = weftOps();
  // The pure path's sessions are built with it selected, and keep its Ed25519 keys.
  selectPure(true);
  const pure = weftOps();
  selectPure(false);
  for (const key of Object.keys(TITLES) as (keyof MegolmFigures)[]) {
    const [native, portable] = pureAgainstNative(key, weft, pure);
    printComparison(`${TITLES[key]}, Node against the browser path`, row('weft', native), [
      row('weft (pure JS)', portable),
    ]);
  }
}
