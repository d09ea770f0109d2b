/**
 * A malicious homeserver as its own PROCESS, for the federation fault tests (issue #6: "a
 * malicious server process (written for the test)"). It runs the hand-written peer of
 * ../federation-peer.ts — its own TLS listener (certificate from the test CA), its own Ed25519
 * signing key and key server (`/_matrix/key/v2/server`) — and does what the driving test asks,
 * one JSON command per stdin line, one JSON answer per stdout line (`{ id, ok, result | error }`):
 *
 * - `sign { event, roomVersion }`           hashes and signs an event honestly → `{ pdu, eventId }`
 * - `forge { event, roomVersion }`          signs it with a throwaway key under the REAL key ID
 * - `send { destination, txnId, pdus, edus }` a signed `/send` transaction → the response body
 * - `request { destination, method, path, body }` any signed request → `{ status, body }`
 * - `forgedRequest { … }`                     the same, X-Matrix signed by a throwaway key under
 *                                            the real key ID → `{ status, body }`
 * - `unsigned { destination, method, path, body }` the same without X-Matrix → `{ status, body }`
 * - `serve { pdu, eventId }`                 answers `GET /event/{eventId}` with it
 * - `received {}`                            the transactions it was sent
 *
 * Usage: node --conditions=weft-source main.ts '<json: name, port, caFile, certFile, keyFile, hosts>'
 * It prints `{"ready":true,"keyId":…}` once listening and exits when stdin closes.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

import { computeEventId, generateSigningKey, type JsonObject, signEvent } from '@weft/signing';

import { startTestPeer } from '../federation-peer.ts';

interface Options {
  readonly name: string;
  readonly port: number;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly hosts: Record<string, string>;
}

type Json = Record<string, unknown>;

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const peer = await startTestPeer(
  options.name,
  options.port,
  { dir: '', certFile: options.caFile, keyFile: '' },
  {
    certFile: options.certFile,
    keyFile: options.keyFile,
    cert: readFileSync(options.certFile, 'utf8'),
    key: readFileSync(options.keyFile, 'utf8'),
  },
  options.hosts,
);

/** A signature by a key the server never published, filed under its real key ID. */
function forge(event: Json, roomVersion: string): { pdu: Json; eventId: string } {
  const forger = generateSigningKey();
  const pdu = signEvent(event as JsonObject, roomVersion, options.name, forger) as Json;
  const signatures = pdu['signatures'] as Record<string, Record<string, string>>;
  const value = Object.values(signatures[options.name] ?? {})[0] ?? '';
  pdu['signatures'] = { [options.name]: { [peer.key.keyId]: value } };
  return { pdu, eventId: computeEventId(pdu as JsonObject, roomVersion) };
}

type Method = 'GET' | 'PUT' | 'POST';

async function run(command: Json): Promise<unknown> {
  const str = (key: string) => String(command[key]);
  switch (command['cmd']) {
    case 'sign':
      return peer.sign(command['event'] as Json, str('roomVersion'));
    case 'forge':
      return forge(command['event'] as Json, str('roomVersion'));
    case 'send':
      return peer.send(
        str('destination'),
        str('txnId'),
        command['pdus'] as unknown[],
        (command['edus'] ?? []) as unknown[],
      );
    case 'request':
      return peer.request(
        str('destination'),
        str('method') as Method,
        str('path'),
        command['body'],
      );
    case 'forgedRequest':
      return peer.forgedRequest(
        str('destination'),
        str('method') as Method,
        str('path'),
        command['body'],
      );
    case 'unsigned':
      return peer.unsignedRequest(
        str('destination'),
        str('method') as Method,
        str('path'),
        command['body'],
      );
    case 'serve':
      peer.served.set(str('eventId'), command['pdu'] as Json);
      return {};
    case 'received':
      return peer.received;
    default:
      throw new Error(`unknown command ${String(command['cmd'])}`);
  }
}

const write = (message: Json): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let command: Json;
  try {
    command = JSON.parse(line) as Json;
  } catch {
    write({ id: null, ok: false, error: 'not JSON' });
    return;
  }
  run(command).then(
    (result) => write({ id: command['id'], ok: true, result }),
    (error: unknown) => write({ id: command['id'], ok: false, error: String(error) }),
  );
});
lines.on('close', () => {
  void peer.down().then(() => process.exit(0));
});
write({ ready: true, keyId: peer.key.keyId });
