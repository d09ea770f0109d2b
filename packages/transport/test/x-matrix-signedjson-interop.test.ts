/**
 * X-Matrix interop with signedjson 1.1.1 (Synapse's signing library, Debian python3-signedjson):
 * the request JSON of server-server API "Request Authentication" signed in Python is accepted by
 * our server over HTTP, and our signatures verify in Python. The key is the spec's test key from
 * appendices "Cryptographic Test Vectors" (via the shared vectors).
 */
import { requirePythonModule, runPython } from '@weft/interop';
import {
  buildRequestJson,
  createMatrixApp,
  parseXMatrixHeader,
  signRequest,
} from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { specSigningKey } from './keys.ts';
import { listen, readJson, type TestServer } from './serve.ts';

const ORIGIN = 'origin.example';
const DEST = 'dest.example';
const { key, seed, publicKey } = specSigningKey();

// Mirrors the spec's example `authorization_headers` (server-server API, "Request
// Authentication"), run once per request in `requests`.
const PYTHON_SIGN = `
import json, sys
from signedjson.key import decode_signing_key_base64
from signedjson.sign import sign_json
data = json.load(sys.stdin)
key = decode_signing_key_base64("ed25519", data["version"], data["seed"])
out = []
for r in data["requests"]:
    request_json = {"method": r["method"], "uri": r["uri"], "origin": data["origin"], "destination": data["destination"]}
    if "content" in r:
        request_json["content"] = r["content"]
    signed = sign_json(request_json, data["origin"], key)
    headers = []
    for k, sig in signed["signatures"][data["origin"]].items():
        headers.append('X-Matrix origin="%s",destination="%s",key="%s",sig="%s"' % (data["origin"], data["destination"], k, sig))
    out.append(headers[0])
print(json.dumps(out))
`;

const PYTHON_VERIFY = `
import json, sys
from signedjson.key import decode_verify_key_bytes
from signedjson.sign import verify_signed_json, SignatureVerifyException
from unpaddedbase64 import decode_base64
data = json.load(sys.stdin)
vk = decode_verify_key_bytes(data["key_id"], decode_base64(data["public_key"]))
out = []
for obj in data["objects"]:
    try:
        verify_signed_json(obj, data["origin"], vk)
        out.append(True)
    except SignatureVerifyException:
        out.append(False)
print(json.dumps(out))
`;

const requests = [
  {
    method: 'PUT',
    uri: '/_matrix/federation/v1/send/txn1',
    content: {
      pdus: [],
      edus: [{ edu_type: 'm.typing', content: { user_id: '@a:origin.example', typing: true } }],
      origin: ORIGIN,
      origin_server_ts: 1700000000000,
    },
  },
  {
    method: 'GET',
    uri: '/_matrix/federation/v1/query/profile?user_id=%40a%3Adest.example&field=displayname',
  },
  {
    method: 'POST',
    uri: '/_matrix/federation/v1/user/keys/query',
    content: { device_keys: { '@b:dest.example': [] }, 'unicode ☃': 'é\u0000' },
  },
];

const app = createMatrixApp({
  federation: {
    serverName: DEST,
    lookupKey: (server, keyId) =>
      server === ORIGIN && keyId === key.keyId ? publicKey : undefined,
  },
});
for (const method of ['GET', 'PUT', 'POST'] as const) {
  app.endpoint({
    method,
    path: '/_matrix/federation/v1/*',
    auth: 'server',
    handler: ({ origin, body }) => ({ origin, body }),
  });
}

let server: TestServer;
beforeAll(async () => {
  requirePythonModule('signedjson', 'python3-signedjson');
  server = await listen(app.fetch);
});
afterAll(async () => {
  await server.close();
});

describe('X-Matrix with signedjson (python3-signedjson)', () => {
  it('our server accepts requests signed by signedjson, and refuses them replayed elsewhere', async () => {
    const headers = runPython<string[]>(PYTHON_SIGN, {
      seed,
      version: key.version,
      origin: ORIGIN,
      destination: DEST,
      requests,
    });
    expect(headers).toHaveLength(requests.length);
    for (const [i, request] of requests.entries()) {
      const authorization = headers[i] ?? '';
      const init = {
        method: request.method,
        headers: { Authorization: authorization },
        ...(request.content === undefined ? {} : { body: JSON.stringify(request.content) }),
      };
      const response = await fetch(server.url + request.uri, init);
      const body = await readJson(response);
      expect(response.status, `${request.method} ${request.uri}`).toBe(200);
      expect(body['origin']).toBe(ORIGIN);
      // The same header on another path must fail: the URI is covered.
      const replay = await fetch(`${server.url}/_matrix/federation/v1/other`, init);
      expect(replay.status).toBe(401);
    }
  });

  it('signedjson verifies the signatures of signRequest, and rejects them on a changed request', () => {
    const objects: unknown[] = [];
    for (const request of requests) {
      const full = { ...request, origin: ORIGIN, destination: DEST };
      const { key: keyId, sig } = parseXMatrixHeader(signRequest(full, key));
      const signedObject = {
        ...buildRequestJson(full),
        signatures: { [ORIGIN]: { [keyId]: sig } },
      };
      objects.push(signedObject, { ...signedObject, uri: `${request.uri}x` });
    }
    const results = runPython<boolean[]>(PYTHON_VERIFY, {
      key_id: key.keyId,
      public_key: publicKey,
      origin: ORIGIN,
      objects,
    });
    expect(results).toEqual(requests.flatMap(() => [true, false]));
  });
});
