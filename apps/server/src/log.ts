/**
 * Structured logs: one JSON object per line on stderr (`{"ts":…,"level":…,"msg":…,…fields}`).
 * Never log access tokens, passwords, keys or request bodies; log user IDs, room IDs, paths.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const ORDER: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

function describeError(error: unknown): unknown {
  if (error instanceof Error) {
    return { name: error.name, message: error.message, stack: error.stack };
  }
  return String(error);
}

/** A logger writing JSON lines at `level` and above to `write` (default: stderr). */
export function createLog(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stderr.write(line),
): Log {
  const emit = (at: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER[at] < ORDER[level]) return;
    const record: Record<string, unknown> = { ts: new Date().toISOString(), level: at, msg };
    for (const [key, value] of Object.entries(fields)) {
      record[key] = key === 'error' ? describeError(value) : value;
    }
    write(`${JSON.stringify(record)}\n`);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
  };
}

/** A logger that drops everything (tests). */
export const silentLog: Log = createLog('error', () => {});
