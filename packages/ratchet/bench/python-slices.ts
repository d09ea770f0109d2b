/**
 * libolm C's side of the benchmarks: one long-lived python3-olm process (Debian's, timing its
 * own loop with time.process_time, so Python's call overhead is the only extra) that runs one
 * measuring slice per request, as JSON lines over stdio.
 *
 * One process for the whole run, instead of a fresh one per slice: the slices can then be short
 * and many, taking turns with Weft's and libjs-olm's, without a second of interpreter start-up
 * and warm-up each (which had limited a run to five slices per figure).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { DEBIAN_PYTHON } from '@weft/interop';

/**
 * The driver: `setup` defines `ops`, a dict of name → zero-argument function, from the Python
 * source it is given; each request `{op, millis}` runs `ops[op]` for `millis` ms of CPU time
 * (after a warm-up on its first use) and answers `{rate}` in operations per CPU second.
 */
const DRIVER = String.raw`
import json, sys, time, olm
def once(fn, window):
    n, start = 0, time.process_time()
    now = start
    while now - start < window:
        fn(); n += 1
        if n % 8 == 0: now = time.process_time()
    return n / (now - start)
ops, warm = {}, set()
for line in sys.stdin:
    request = json.loads(line)
    if "setup" in request:
        exec(request["setup"], {"olm": olm, "ops": ops})
        reply = {"ok": True}
    else:
        fn = ops[request["op"]]
        if request["op"] not in warm:
            for _ in range(50): fn()
            warm.add(request["op"])
        reply = {"rate": once(fn, request["millis"] / 1000)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
`;

/** A running python3-olm measuring process. */
export interface PythonSlices {
  /** One slice of `op` for `millis` ms of the Python process's CPU time; ops per CPU second. */
  slice(op: string, millis: number): Promise<number>;
  close(): void;
}

/** Starts the process and runs `setup` (Python source that fills the dict `ops`). */
export async function startPythonSlices(setup: string): Promise<PythonSlices> {
  const child = spawn(DEBIAN_PYTHON, ['-c', DRIVER], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ask = async (request: unknown): Promise<Record<string, unknown>> => {
    child.stdin.write(`${JSON.stringify(request)}\n`);
    const { value, done } = await lines.next();
    if (done) throw new Error('python3-olm benchmark process ended');
    return JSON.parse(value) as Record<string, unknown>;
  };
  await ask({ setup });
  return {
    async slice(op, millis) {
      const { rate } = await ask({ op, millis });
      if (typeof rate !== 'number') throw new Error(`no rate for ${op}`);
      return rate;
    },
    close() {
      child.stdin.end();
    },
  };
}
