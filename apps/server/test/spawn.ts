/**
 * Starts the homeserver as a separate PROCESS, the way a person runs it (`src/main.ts` with
 * `--data-dir`, `--listen`, `--server-name`), and waits until `/versions` answers. Real-client
 * tests talk to it over loopback; the durability test SIGKILLs it and starts it again on the same
 * data directory; the benchmark reads its RSS from /proc.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
/** The `weft-server` command, which runs the build (`npm run build -w apps/server`). */
const BIN = resolve(import.meta.dirname, '../bin/weft-server.js');

export interface SpawnOptions {
  /** Reuse a data directory (restart after a kill); default a fresh temporary one. */
  readonly dataDir?: string;
  readonly serverName?: string;
  /** Port to listen on; default a free loopback port. */
  readonly port?: number;
  /**
   * YAML written to `<dataDir>/weft.yaml` when the data directory is fresh (default
   * {@link TEST_CONFIG_YAML}); `null` writes nothing, so the server generates its default file.
   */
  readonly configYaml?: string | null;
  /** Extra Node flags (e.g. `--cpu-prof`). */
  readonly nodeFlags?: readonly string[];
  /** Run `bin/weft-server.js` on the build (benchmarks) instead of the TypeScript source (tests). */
  readonly built?: boolean;
  /** How long to wait for `/versions` (ms). */
  readonly startTimeoutMs?: number;
  /** Extra environment variables for the process (e.g. `WEFT_SERVER_SOURCE`). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface SpawnedServer {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly serverName: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** The last lines the process wrote to stderr/stdout (for failure messages). */
  output(): string;
  /** SIGKILL: no shutdown, no flush; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM: graceful shutdown; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The test config: the documented defaults, with rate limits that never throttle a test. */
export const TEST_CONFIG_YAML = `rate_limit:
  per_second: 100000
  burst: 100000
`;

/** Where the kernel's ephemeral ports (those outgoing connections get) begin. */
function ephemeralPortsStart(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > 0 ? start : 32_768;
  } catch {
    return 32_768; // Linux's default, and not Linux: IANA's dynamic range starts above it.
  }
}

/**
 * Listens on loopback `port` (0: the kernel picks) and closes again: the port it was bound to, or
 * `undefined` if it could not listen there.
 */
function probe(port: number): Promise<number | undefined> {
  return new Promise((resolveProbe) => {
    const server = createServer();
    server.once('error', () => resolveProbe(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolveProbe(bound));
    });
  });
}

/**
 * A loopback port nothing listens on right now, below the kernel's ephemeral range. A port the
 * kernel picked (`listen(0)`), probed and released, lies in that range, so any outgoing
 * connection — another test file's client — could be given it before the server listened: one
 * CI run failed with EADDRINUSE that way. Below the range only a server asking for that very
 * port can take it.
 */
export async function freePort(): Promise<number> {
  // Above the Fetch standard's "bad ports" (its highest is 10080), to which `fetch` — the tests'
  // client — refuses to connect ("bad port"): one CI run drew 10080.
  const low = 10_081;
  const high = ephemeralPortsStart();
  for (let attempt = 0; high - low > 1_000 && attempt < 100; attempt++) {
    const port = randomInt(low, high);
    if ((await probe(port)) !== undefined) return port;
  }
  // No room below the range (or nothing free there): the kernel's pick.
  const picked = await probe(0);
  if (picked === undefined) throw new Error('cannot listen on any loopback port');
  return picked;
}

/** Spawns `node --conditions=weft-source src/main.ts …` and waits for `/versions`. */
export async function spawnServer(options: SpawnOptions = {}): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'weft-proc-'));
  const serverName = options.serverName ?? 'proc.test';
  const port = options.port ?? (await freePort());
  if (options.configYaml !== null && options.dataDir === undefined) {
    writeFileSync(join(dataDir, 'weft.yaml'), options.configYaml ?? TEST_CONFIG_YAML);
  }
  const child = spawn(
    process.execPath,
    [
      ...(options.built ? [] : ['--conditions=weft-source']),
      ...(options.nodeFlags ?? []),
      options.built ? BIN : MAIN,
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--server-name',
      serverName,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        // `built`: the build, even when src/ was edited after it (callers build right before).
        ...(options.built ? { WEFT_SERVER_SOURCE: '0' } : {}),
        ...options.env,
      },
    },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code) => resolveExit(code)),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (gone) throw new Error(`weft-server exited before listening:\n${output}`);
    try {
      const response = await fetch(`${url}/_matrix/client/versions`);
      if (response.ok) {
        await response.arrayBuffer();
        break;
      }
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`weft-server did not answer /versions in time:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  const pid = child.pid;
  if (pid === undefined) throw new Error('weft-server has no pid');
  return {
    url,
    port,
    dataDir,
    serverName,
    pid,
    process: child,
    output: () => output,
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone) child.kill('SIGTERM');
      return await exited;
    },
  };
}
