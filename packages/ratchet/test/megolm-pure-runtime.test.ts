// The browser path of Megolm: a Node child process with `process.getBuiltinModule` removed before
// @weft/ratchet loads, so Ed25519 must come from @noble/curves and AES, HMAC and HKDF from
// @noble/ciphers and @noble/hashes (src/primitives.ts). Its output must equal this process's native-path output for the
// same random stream, and it must read libolm's vectors (../shared/vectors/olm-megolm-generated.json).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { loadVectorFile } from '@weft/test-vectors';
import { describe, expect, it } from 'vitest';

import { GroupSession, InboundGroupSession } from '../src/index.ts';

const indexUrl = new URL('../src/index.ts', import.meta.url).href;
const signingUrl = new URL('../src/megolm/signing.ts', import.meta.url).href;
const primitivesUrl = new URL('../src/primitives.ts', import.meta.url).href;

interface Scenario {
  secret: string;
  sessionKey: string;
  messages: string[];
  decrypted: string[];
}

const SCRIPT = `
process.getBuiltinModule = undefined;
const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
(async () => {
  const { GroupSession, InboundGroupSession } = await import(${JSON.stringify(indexUrl)});
  const { selectSigningImplementation } = await import(${JSON.stringify(signingUrl)});
  const { selectPrimitives } = await import(${JSON.stringify(primitivesUrl)});
  const secret = Uint8Array.from(Buffer.from(input.secret, 'base64'));
  const outbound = new GroupSession(() => secret.slice());
  const sessionKey = outbound.sessionKey();
  const messages = input.plaintexts.map((p) => outbound.encrypt(p));
  const inbound = InboundGroupSession.fromSessionKey(input.foreignKey);
  const decrypted = input.foreignMessages.map((m) => new TextDecoder().decode(inbound.decrypt(m).plaintext));
  process.stdout.write(JSON.stringify({
    native: [selectSigningImplementation(true), selectPrimitives('native')],
    sessionKey, messages, decrypted,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function runPure(input: unknown): Scenario & { native: boolean[] } {
  const result = spawnSync(process.execPath, ['--conditions=weft-source', '-e', SCRIPT], {
    input: JSON.stringify(input),
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  if (result.status !== 0) throw new Error(`pure-path child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as Scenario & { native: boolean[] };
}

describe('Megolm without node:crypto', () => {
  it('finds no native primitives and produces the native path bytes, both directions', () => {
    const secret = randomBytes(160);
    const plaintexts = ['one', 'two 🌱', 'x'.repeat(500)];
    const sender = GroupSession.create();
    const foreignKey = sender.sessionKey();
    const foreignMessages = plaintexts.map((p) => sender.encrypt(p));
    const pure = runPure({
      secret: secret.toString('base64'),
      plaintexts,
      foreignKey,
      foreignMessages,
    });

    expect(pure.native).toEqual([false, false]);
    const twin = new GroupSession(() => new Uint8Array(secret));
    expect(pure.sessionKey).toBe(twin.sessionKey());
    expect(pure.messages).toEqual(plaintexts.map((p) => twin.encrypt(p)));
    expect(pure.decrypted).toEqual(plaintexts);
    const inbound = InboundGroupSession.fromSessionKey(pure.sessionKey);
    expect(
      pure.messages.map((m) => new TextDecoder().decode(inbound.decrypt(m).plaintext)),
    ).toEqual(plaintexts);
  });

  it("decrypts libolm's recorded Megolm messages", () => {
    const file = loadVectorFile('olm-megolm-generated.json');
    const vector = (file.cases ?? []).find((c) => (c as { kind?: string }).kind === 'megolm') as
      | { session_key: string; messages: { ciphertext: string; plaintext: string }[] }
      | undefined;
    expect(vector).toBeDefined();
    const megolm = vector as NonNullable<typeof vector>;
    const pure = runPure({
      secret: randomBytes(160).toString('base64'),
      plaintexts: [],
      foreignKey: megolm.session_key,
      foreignMessages: megolm.messages.map((m) => m.ciphertext),
    });
    expect(pure.decrypted).toEqual(megolm.messages.map((m) => m.plaintext));
  });
});
