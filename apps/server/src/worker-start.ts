/**
 * Starting a worker thread with this process's Node flags, which Node refuses for workers when
 * one of them is process-wide only (`--trace-gc`, say): then the worker starts with the
 * flags it needs alone. Used by the HTTP thread and the send_join verification workers.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `new Worker(url, options)`, retried with `fallbackExecArgv` if the process's flags are refused. */
export function startWorkerThread(
  url: URL,
  options: WorkerOptions,
  fallbackExecArgv: readonly string[],
): Worker {
  try {
    return new Worker(url, options);
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(url, { ...options, execArgv: [...fallbackExecArgv] });
  }
}
