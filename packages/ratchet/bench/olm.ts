/**
 * Olm benchmarks: Weft against libolm 3.2.13 as native C (Debian python3-olm, timing its own loop
 * with time.process_time so Python's call overhead is the only extra) and as WebAssembly in this
 * Node process (Debian libjs-olm). Plaintexts are 200 bytes. Prints ops/s and ratios.
 *
 * The three take turns, slice by slice: in each round Weft, libjs-olm and then the long-lived
 * python3-olm process (`python-slices.ts`) each run the operation for one slice, and each figure
 * is the best of ROUNDS such slices. On a shared machine the load moves within seconds (one
 * operation's CPU cost varied 3× between consecutive 100 ms slices under a load average of 5–6),
 * so measuring one implementation after another skewed their ratios by up to 2×, and many short
 * slices find the quiet moments more reliably than a few long ones.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { type Measurement, printComparison } from '@weft/bench';

import { Account, type OlmMessage, type Session } from '../src/index.ts';
import { type PythonSlices, startPythonSlices } from './python-slices.ts';

// Throughput is measured in CPU time (process.cpuUsage here, time.process_time in Python), not
// wall time: on a shared machine other jobs' load would otherwise swamp the comparison. Each
// figure is the best of ROUNDS slices of MILLIS ms of CPU time.
const MILLIS = Number(process.env['BENCH_MILLIS'] ?? 150);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 12);
const PLAINTEXT = 'x'.repeat(200);

interface JsOlmSession {
  create_outbound(account: JsOlmAccount, identityKey: string, oneTimeKey: string): void;
  create_inbound(account: JsOlmAccount, body: string): void;
  encrypt(plaintext: string): OlmMessage;
  decrypt(type: number, body: string): string;
  free(): void;
}
interface JsOlmAccount {
  create(): void;
  identity_keys(): string;
  generate_fallback_key(): void;
  unpublished_fallback_key(): string;
  free(): void;
}
interface JsOlm {
  init(options: { wasmBinary: Uint8Array }): Promise<void>;
  Account: new () => JsOlmAccount;
  Session: new () => JsOlmSession;
}

/** The four figures every implementation reports, in ops/s. */
interface OlmFigures {
  outbound: number;
  inbound: number;
  encrypt: number;
  roundTrip: number;
}

// libolm C's operations, run by the long-lived python3-olm process (`python-slices.ts`).
const PYTHON_SETUP = `
plaintext = "x" * 200
alice, bob = olm.Account(), olm.Account()
bob.generate_fallback_key()
bob_curve = bob.identity_keys["curve25519"]
fallback = list(bob.fallback_key["curve25519"].values())[0]
def pair():
    a = olm.OutboundSession(alice, bob_curve, fallback)
    first = a.encrypt(plaintext)
    b = olm.InboundSession(bob, first); b.decrypt(first)
    a.decrypt(b.encrypt(plaintext))
    return a, b
pre = olm.OutboundSession(alice, bob_curve, fallback).encrypt(plaintext)
def inbound():
    s = olm.InboundSession(bob, pre)
    s.decrypt(pre)
a, _ = pair()
c, d = pair()
ops["outbound"] = lambda: olm.OutboundSession(alice, bob_curve, fallback)
ops["inbound"] = inbound
ops["encrypt"] = lambda: a.encrypt(plaintext)
ops["roundTrip"] = lambda: d.decrypt(c.encrypt(plaintext))
`;

function cpuMillis(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Runs `fn` for `millis` ms of process CPU time; returns operations per CPU second. */
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

/** One closure per benchmarked operation. */
type Ops = Record<keyof OlmFigures, () => unknown>;

function weftOps(): Ops {
  const alice = Account.create();
  const bob = Account.create();
  bob.generateFallbackKey();
  const bobCurve = bob.identityKeys().curve25519;
  const fallback = Object.values(bob.fallbackKey())[0] ?? '';
  const pre = alice.createOutboundSession(bobCurve, fallback).encrypt(PLAINTEXT);
  const [a] = establish(alice, bob, bobCurve, fallback);
  // A separate pair: the encrypt loop moves a's chain far past b's 2,000-message gap limit.
  const [c, d] = establish(alice, bob, bobCurve, fallback);
  // Decrypted plaintexts are decoded to strings, as libjs-olm's and python3-olm's `decrypt`
  // return them (Weft returns bytes; a client decodes them to parse the event's JSON).
  const decoder = new TextDecoder();
  return {
    outbound: () => alice.createOutboundSession(bobCurve, fallback),
    inbound: () => decoder.decode(bob.createInboundSession(undefined, pre.body).plaintext),
    encrypt: () => a.encrypt(PLAINTEXT),
    roundTrip: () => decoder.decode(d.decrypt(c.encrypt(PLAINTEXT))),
  };
}

function establish(
  alice: Account,
  bob: Account,
  bobCurve: string,
  fallback: string,
): [Session, Session] {
  const a = alice.createOutboundSession(bobCurve, fallback);
  const { session: b } = bob.createInboundSession(undefined, a.encrypt(PLAINTEXT).body);
  a.decrypt(b.encrypt(PLAINTEXT));
  return [a, b];
}

async function jsOlmOps(): Promise<Ops> {
  const require = createRequire(import.meta.url);
  const Olm = require('/usr/share/nodejs/@matrix-org/olm/olm.js') as JsOlm;
  await Olm.init({ wasmBinary: readFileSync('/usr/share/nodejs/@matrix-org/olm/olm.wasm') });
  const alice = new Olm.Account();
  alice.create();
  const bob = new Olm.Account();
  bob.create();
  bob.generate_fallback_key();
  const bobCurve = (JSON.parse(bob.identity_keys()) as { curve25519: string }).curve25519;
  const fallbackJson = JSON.parse(bob.unpublished_fallback_key()) as {
    curve25519: Record<string, string>;
  };
  const fallback = Object.values(fallbackJson.curve25519)[0] ?? '';
  const preSession = new Olm.Session();
  preSession.create_outbound(alice, bobCurve, fallback);
  const pre = preSession.encrypt(PLAINTEXT);
  const pair = (): [JsOlmSession, JsOlmSession] => {
    const a = new Olm.Session();
    a.create_outbound(alice, bobCurve, fallback);
    const first = a.encrypt(PLAINTEXT);
    const b = new Olm.Session();
    b.create_inbound(bob, first.body);
    b.decrypt(first.type, first.body);
    const reply = b.encrypt(PLAINTEXT);
    a.decrypt(reply.type, reply.body);
    return [a, b];
  };
  const [c] = pair();
  const [a, b] = pair();
  return {
    outbound: () => {
      const s = new Olm.Session();
      s.create_outbound(alice, bobCurve, fallback);
      s.free();
    },
    inbound: () => {
      const s = new Olm.Session();
      s.create_inbound(bob, pre.body);
      s.decrypt(pre.type, pre.body);
      s.free();
    },
    encrypt: () => c.encrypt(PLAINTEXT),
    roundTrip: () => {
      const m = a.encrypt(PLAINTEXT);
      b.decrypt(m.type, m.body);
    },
  };
}

/**
 * Best of ROUNDS slices for Weft, libjs-olm and libolm C, taking turns within each round (see
 * the module comment); libolm C's slice runs in the long-lived python3-olm process.
 */
async function peaks(
  weft: Ops,
  js: Ops,
  python: PythonSlices,
  op: keyof OlmFigures,
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

function row(name: string, opsPerSecond: number): Measurement {
  return { name, opsPerSecond, iterations: 0 };
}

/** Runs the Olm benchmarks and prints Weft's ratio to each libolm build. */
export async function benchOlm(): Promise<void> {
  const weft = weftOps();
  const js = await jsOlmOps();
  const titles: Record<keyof OlmFigures, string> = {
    outbound: 'Olm outbound session creation (3 X25519 agreements + 2 key generations)',
    inbound: 'Olm inbound session creation + first 200-byte decrypt',
    encrypt: 'Olm encrypt, 200 bytes',
    roundTrip: 'Olm encrypt + decrypt, 200 bytes',
  };
  const python = await startPythonSlices(PYTHON_SETUP);
  try {
    for (const key of Object.keys(titles) as (keyof OlmFigures)[]) {
      const [weftRate, jsRate, cRate] = await peaks(weft, js, python, key);
      printComparison(titles[key], row('weft', weftRate), [
        row('libolm C (python3-olm)', cRate),
        row('libjs-olm (wasm)', jsRate),
      ]);
    }
  } finally {
    python.close();
  }
}
