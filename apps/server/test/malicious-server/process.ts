/**
 * Starts the malicious server (main.ts) as a child process and drives it: each method sends one
 * JSON command line and resolves with the matching answer line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

import type { TestCa, TestCert } from '../federation-harness.ts';

const MAIN = resolve(import.meta.dirname, 'main.ts');

type Json = Record<string, unknown>;
type Method = 'GET' | 'PUT' | 'POST';

/** The running malicious server. */
export interface MaliciousServer {
  readonly name: string;
  readonly pid: number;
  readonly keyId: string;
  sign(event: Json, roomVersion: string): Promise<{ pdu: Json; eventId: string }>;
  forge(event: Json, roomVersion: string): Promise<{ pdu: Json; eventId: string }>;
  send(destination: string, txnId: string, pdus: unknown[], edus?: unknown[]): Promise<Json>;
  request(
    destination: string,
    method: Method,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }>;
  forgedRequest(
    destination: string,
    method: Method,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }>;
  unsigned(
    destination: string,
    method: Method,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Json }>;
  serve(eventId: string, pdu: Json): Promise<void>;
  received(): Promise<Array<{ txnId: string; origin: string; pdus: Json[] }>>;
  /** Closes its stdin (it stops listening and exits); resolves when it is gone. */
  stop(): Promise<void>;
}

/** Spawns the malicious server `name` on `port` with a certificate from `ca`. */
export async function startMaliciousServer(
  name: string,
  port: number,
  ca: TestCa,
  cert: TestCert,
  hosts: Readonly<Record<string, string>>,
): Promise<MaliciousServer> {
  const options = {
    name,
    port,
    caFile: ca.certFile,
    certFile: cert.certFile,
    keyFile: cert.keyFile,
    hosts,
  };
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=weft-source', MAIN, JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let ready: ((keyId: string) => void) | undefined;
  const readyPromise = new Promise<string>((resolveReady, rejectReady) => {
    ready = resolveReady;
    void exited.then(() => rejectReady(new Error(`malicious server exited:\n${stderr}`)));
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const message = JSON.parse(line) as Json;
    if (message['ready'] === true) {
      ready?.(String(message['keyId']));
      return;
    }
    const waiter = pending.get(Number(message['id']));
    if (waiter === undefined) return;
    pending.delete(Number(message['id']));
    if (message['ok'] === true) waiter.resolve(message['result']);
    else waiter.reject(new Error(String(message['error'])));
  });
  const keyId = await readyPromise;

  let next = 0;
  const command = <T>(cmd: string, args: Json = {}): Promise<T> =>
    new Promise<T>((resolveCommand, reject) => {
      const id = ++next;
      pending.set(id, { resolve: (value) => resolveCommand(value as T), reject });
      child.stdin?.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });

  const pid = child.pid;
  if (pid === undefined) throw new Error('malicious server has no pid');
  return {
    name,
    pid,
    keyId,
    sign: (event, roomVersion) => command('sign', { event, roomVersion }),
    forge: (event, roomVersion) => command('forge', { event, roomVersion }),
    send: (destination, txnId, pdus, edus = []) =>
      command('send', { destination, txnId, pdus, edus }),
    request: (destination, method, path, body) =>
      command('request', { destination, method, path, body }),
    forgedRequest: (destination, method, path, body) =>
      command('forgedRequest', { destination, method, path, body }),
    unsigned: (destination, method, path, body) =>
      command('unsigned', { destination, method, path, body }),
    serve: (eventId, pdu) => command('serve', { eventId, pdu }),
    received: () => command('received'),
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
