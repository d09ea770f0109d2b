/**
 * `startWorkerThread` (src/worker-start.ts): a worker whose flags Node refuses for workers
 * starts with the fallback flags instead; any other failure is thrown.
 */
import { once } from 'node:events';

import { describe, expect, it } from 'vitest';

import { startWorkerThread } from '../src/worker-start.ts';

/** A worker that posts its own `process.execArgv` and ends. */
const REPORTER = new URL(
  `data:text/javascript,${encodeURIComponent(
    "import { parentPort } from 'node:worker_threads'; parentPort.postMessage(process.execArgv);",
  )}`,
);

describe('startWorkerThread', () => {
  it('retries with the fallback flags when the given ones are refused for workers', async () => {
    const worker = startWorkerThread(REPORTER, { execArgv: ['--trace-gc'] }, ['--no-warnings']);
    const [execArgv] = await once(worker, 'message');
    expect(execArgv).toEqual(['--no-warnings']);
    await worker.terminate();
  });

  it('keeps the given flags when Node accepts them', async () => {
    const worker = startWorkerThread(REPORTER, { execArgv: ['--no-deprecation'] }, []);
    const [execArgv] = await once(worker, 'message');
    expect(execArgv).toEqual(['--no-deprecation']);
    await worker.terminate();
  });

  it('throws any other failure, and a refused fallback', () => {
    // A function cannot be cloned into the worker: thrown at once, not retried.
    expect(() => startWorkerThread(REPORTER, { workerData: () => 1 }, [])).toThrow();
    expect(() =>
      startWorkerThread(REPORTER, { execArgv: ['--trace-gc'] }, ['--expose-gc']),
    ).toThrow(expect.objectContaining({ code: 'ERR_WORKER_INVALID_EXEC_ARGV' }));
  });
});
