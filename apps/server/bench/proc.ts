/**
 * What the benchmarks read about a server process from /proc: on a shared machine wall-clock
 * figures depend on everyone else's load, a process's own CPU time and memory do not.
 */
import { readFileSync } from 'node:fs';

/**
 * CPU seconds (user + system) a process has used, from /proc/<pid>/stat. System time is the
 * kernel's share: socket reads and writes, SQLite's WAL writes.
 */
export function cpuSeconds(pid: number): { user: number; system: number } {
  return statCpu(`/proc/${pid}/stat`);
}

/**
 * CPU seconds of a process's main thread alone (its thread ID is the process ID): the thread
 * that runs the server's logic, with the HTTP thread and V8's helpers left out.
 */
export function mainThreadCpuSeconds(pid: number): number {
  const { user, system } = statCpu(`/proc/${pid}/task/${pid}/stat`);
  return user + system;
}

function statCpu(path: string): { user: number; system: number } {
  const fields = readFileSync(path, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // Fields 14 and 15 of stat (utime, stime), in clock ticks of 1/100 s; index 11/12 after ") ".
  return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
}
