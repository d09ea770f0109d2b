/**
 * Runs a Python program against Debian's Matrix libraries (python3-olm, python3-canonicaljson,
 * python3-signedjson, python3-matrix-nio).
 *
 * Always `/usr/bin/python3`: the `python3` first on PATH may be a separate build that cannot see
 * Debian's packages (../shared/TOOLCHAIN.md). Input goes in as JSON on stdin, output comes back as
 * JSON on stdout, so drivers stay tiny and binary data travels as base64.
 */
import { spawnSync } from 'node:child_process';

export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Runs `program` (Python source) with `input` as JSON on stdin; returns its stdout parsed as JSON. */
export function runPython<T = unknown>(program: string, input: unknown = null): T {
  const result = spawnSync(DEBIAN_PYTHON, ['-c', program], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`python exited with ${result.status}: ${result.stderr.slice(-2000)}`);
  }
  return JSON.parse(result.stdout) as T;
}

/** True when Debian's `module` can be imported; tests use it to fail with a clear install hint. */
export function hasPythonModule(module: string): boolean {
  const result = spawnSync(DEBIAN_PYTHON, ['-c', `import ${module}`], { encoding: 'utf8' });
  return result.status === 0;
}

/** Throws a clear error when a Debian Python module a test needs is missing. */
export function requirePythonModule(module: string, debianPackage: string): void {
  if (!hasPythonModule(module)) {
    throw new Error(
      `interop peer missing: python module '${module}' (apt-get install ${debianPackage}; scripts/provision.sh does this)`,
    );
  }
}
