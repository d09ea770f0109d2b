/**
 * Test helper: a long-lived libolm peer (Debian's python3-olm under /usr/bin/python3) spoken to
 * in JSON lines over stdio, for exchanges that need ping-pong between Weft and libolm. One
 * process per test; `close()` ends it. Binary data crosses as base64 / UTF-8 strings.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

import { DEBIAN_PYTHON, requirePythonModule } from '@weft/interop';

const PROGRAM = String.raw`
import json, sys, olm
accounts, sessions = {}, {}
def msg(m):
    return {"type": m.message_type, "body": m.ciphertext}
def parse(m):
    return olm.OlmPreKeyMessage(m["body"]) if m["type"] == 0 else olm.OlmMessage(m["body"])
def handle(r):
    op = r["op"]
    if op == "account":
        a = olm.Account(); accounts[r["id"]] = a
        if r.get("otks"): a.generate_one_time_keys(r["otks"])
        if r.get("fallback"): a.generate_fallback_key()
        return {"identity": a.identity_keys, "otks": a.one_time_keys["curve25519"],
                "fallback": a.fallback_key.get("curve25519", {})}
    if op == "outbound":
        s = olm.OutboundSession(accounts[r["account"]], r["identity"], r["otk"]); sessions[r["id"]] = s
        return {"session_id": s.id}
    if op == "inbound":
        a = accounts[r["account"]]
        s = olm.InboundSession(a, olm.OlmPreKeyMessage(r["body"]), r.get("identity"))
        a.remove_one_time_keys(s); sessions[r["id"]] = s
        return {"session_id": s.id, "plaintext": s.decrypt(olm.OlmPreKeyMessage(r["body"]))}
    if op == "encrypt":
        s = sessions[r["session"]]
        return {"messages": [msg(s.encrypt(p)) for p in r["plaintexts"]]}
    if op == "decrypt":
        s = sessions[r["session"]]
        return {"plaintexts": [s.decrypt(parse(m)) for m in r["messages"]]}
    if op == "try_decrypt":
        try:
            return {"plaintext": sessions[r["session"]].decrypt(parse(r["message"]))}
        except olm.OlmSessionError as e:
            return {"error": str(e)}
    if op == "matches":
        return {"matches": sessions[r["session"]].matches(olm.OlmPreKeyMessage(r["body"]))}
    if op == "pickle_session":
        return {"pickle": sessions[r["session"]].pickle(r["passphrase"]).decode()}
    if op == "pickle_account":
        return {"pickle": accounts[r["account"]].pickle(r["passphrase"]).decode()}
    if op == "unpickle_account":
        a = olm.Account.from_pickle(r["pickle"].encode(), r["passphrase"]); accounts[r["id"]] = a
        return {"identity": a.identity_keys, "otks": a.one_time_keys["curve25519"],
                "fallback": a.fallback_key.get("curve25519", {})}
    if op == "unpickle_session":
        s = olm.Session.from_pickle(r["pickle"].encode(), r["passphrase"]); sessions[r["id"]] = s
        return {"session_id": s.id}
    if op == "sign":
        return {"signature": accounts[r["account"]].sign(r["message"])}
    if op == "verify":
        try:
            olm.ed25519_verify(r["key"], r["message"], r["signature"]); return {"valid": True}
        except olm.OlmVerifyError:
            return {"valid": False}
    raise ValueError("unknown op " + op)
for line in sys.stdin:
    r = json.loads(line)
    try:
        out = {"ok": handle(r)}
    except Exception as e:
        out = {"error": type(e).__name__ + ": " + str(e)}
    sys.stdout.write(json.dumps(out) + "\n"); sys.stdout.flush()
`;

export class PythonOlmPeer {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];
  #stderr = '';

  constructor() {
    requirePythonModule('olm', 'python3-olm');
    this.#child = spawn(DEBIAN_PYTHON, ['-c', PROGRAM], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const waiter = this.#pending.shift();
      if (waiter === undefined) return;
      const reply = JSON.parse(line) as { ok?: unknown; error?: string };
      if (reply.error !== undefined) waiter.reject(new Error(`python-olm: ${reply.error}`));
      else waiter.resolve(reply.ok);
    });
    this.#child.on('exit', (code) => {
      for (const waiter of this.#pending.splice(0)) {
        waiter.reject(new Error(`python exited with ${code}: ${this.#stderr.slice(-2000)}`));
      }
    });
  }

  /** Sends one request and resolves with the `ok` part of the reply. */
  call<T>(request: Record<string, unknown>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ resolve: resolve as (v: unknown) => void, reject });
      this.#child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  }

  close(): void {
    this.#child.stdin.end();
  }
}
