/**
 * Media across servers and asynchronous uploads, over real TLS federation between a.test and
 * b.test: the federation `GET /media/download|thumbnail/{mediaId}` answers `multipart/mixed`
 * (parsed here on its own, boundary and CRLFs checked); a user of B downloads A's media, fetched
 * once (concurrent downloads share the fetch) and served from B's cache afterwards;
 * `allow_remote=false`, unknown media and media over `media.max_remote_bytes`; `POST /create`,
 * `PUT /upload/{serverName}/{mediaId}` (creator only, once) and downloads waiting for the upload.
 * The cache's expiry (`media.remote_media_lifetime`, swept through `expireRemoteMedia`) and the
 * fallback to the deprecated `/_matrix/media/v3/download` of a hand-written peer.test that lacks
 * the federation media endpoint.
 * JSON answers are validated against the client-server and server-server OpenAPI schemas.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import {
  createServer as createHttpsServer,
  request as httpsRequest,
  type Server,
} from 'node:https';
import { join } from 'node:path';

import { sharedDir } from '@weft/test-vectors';
import { signRequest } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  filenameOf,
  LOCATION_POLICY,
  parseMultipart as serverParse,
} from '../src/services/media/remote.ts';
import { MediaService } from '../src/services/media/service.ts';
import {
  createTestCa,
  issueCert,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';
import { freePort } from './spawn.ts';

const spec = new ClientServerSpec(join(sharedDir, 'matrix-spec/data/api/server-server'));
const clientSpec = new ClientServerSpec();

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: string;
let eve: string;
let bob: string;
let peer: Server;
/** What the hand-written peer.test answers to `media/download/{mediaId}`, by media ID. */
const peerAnswers = new Map<
  string,
  { status: number; type: string; body: string | Buffer; delayMs?: number }
>();
/**
 * What peer.test answers to the deprecated `/_matrix/media/v3/download/peer.test/{mediaId}`, by
 * media ID (the headers given, else 404 M_NOT_FOUND); `legacyQueries` records what was asked.
 */
const legacyAnswers = new Map<
  string,
  { status: number; headers: Record<string, string>; body: string | Buffer }
>();
const legacyQueries: string[] = [];

const png = new Uint8Array([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 13, 10, 45, 45, 255,
]);

beforeAll(async () => {
  const ca = createTestCa();
  const peerPort = await freePort();
  federation = await startFederation(['a.test', 'b.test'], {
    ca,
    extraHosts: { 'peer.test': `127.0.0.1:${peerPort}` },
    file: {
      media: { max_remote_bytes: 4096, max_pending_uploads: 3, remote_media_lifetime: '1d' },
    },
  });
  const cert = issueCert(ca, 'peer.test');
  peer = createHttpsServer({ cert: cert.cert, key: cert.key }, (req, res) => {
    const legacy = /^\/_matrix\/media\/v3\/download\/peer\.test\/([^/?]+)(\?.*)?$/.exec(
      req.url ?? '',
    );
    if (legacy !== null) {
      legacyQueries.push(`${legacy[1]}${legacy[2] ?? ''}`);
      const answer = legacyAnswers.get(legacy[1] ?? '') ?? {
        status: 404,
        headers: { 'Content-Type': 'application/json' },
        body: '{"errcode":"M_NOT_FOUND","error":"no"}',
      };
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
      return;
    }
    const mediaId = /\/media\/download\/([^/?]+)/.exec(req.url ?? '')?.[1] ?? '';
    const answer = peerAnswers.get(mediaId) ?? {
      status: 404,
      type: 'application/json',
      body: '{"errcode":"M_NOT_FOUND","error":"no"}',
    };
    setTimeout(() => {
      res.writeHead(answer.status, { 'Content-Type': answer.type });
      res.end(answer.body);
    }, answer.delayMs ?? 0);
  });
  await new Promise<void>((resolve) => peer.listen(peerPort, '127.0.0.1', resolve));
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = (await a.client.registerUser('alice')).accessToken;
  eve = (await a.client.registerUser('eve')).accessToken;
  bob = (await b.client.registerUser('bob')).accessToken;
}, 60_000);

afterAll(async () => {
  await federation?.close();
  peer?.close();
});

async function upload(bytes: Uint8Array, contentType: string, filename: string): Promise<string> {
  const response = await a.client.request(
    'POST',
    `/_matrix/media/v3/upload?filename=${encodeURIComponent(filename)}`,
    { token: alice, rawBody: bytes, headers: { 'Content-Type': contentType } },
  );
  expect(response.status).toBe(200);
  const uri = String(response.body['content_uri']);
  const mediaId = /^mxc:\/\/a\.test\/([A-Za-z0-9_-]+)$/.exec(uri)?.[1];
  if (mediaId === undefined) throw new Error(`bad content_uri ${uri}`);
  return mediaId;
}

function get(server: TestServer, path: string, token: string | undefined = bob) {
  return fetch(
    server.url + path,
    token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
  );
}

/** A signed federation GET from b.test to a.test, read raw (headers and bytes). */
function federationGet(path: string, signed = true) {
  const url = new URL(federation.federationUrl('a.test'));
  const headers: Record<string, string> = { Host: 'a.test' };
  if (signed) {
    headers['Authorization'] = signRequest(
      { method: 'GET', uri: path, origin: 'b.test', destination: 'a.test' },
      b.services.ctx.signingKey,
    );
  }
  return new Promise<{ status: number; contentType: string; body: Buffer }>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: url.hostname,
        port: Number(url.port),
        servername: 'a.test',
        ca: readFileSync(federation.ca.certFile, 'utf8'),
        method: 'GET',
        path,
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** RFC 2046 multipart, parsed strictly: `--b CRLF part CRLF --b CRLF part CRLF --b-- CRLF`. */
function parseMultipart(contentType: string, body: Buffer) {
  const boundary = /^multipart\/mixed;\s*boundary=("?)([^";]+)\1$/.exec(contentType)?.[2];
  if (boundary === undefined) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('latin1');
  expect(text.startsWith(`--${boundary}\r\n`)).toBe(true);
  expect(text.endsWith(`\r\n--${boundary}--\r\n`)).toBe(true);
  const inner = text.slice(`--${boundary}\r\n`.length, -`\r\n--${boundary}--\r\n`.length);
  const parts = inner.split(`\r\n--${boundary}\r\n`);
  expect(parts).toHaveLength(2);
  return parts.map((part) => {
    const split = part.indexOf('\r\n\r\n');
    expect(split).toBeGreaterThan(0);
    const headers = new Map(
      part
        .slice(0, split)
        .split('\r\n')
        .map((line) => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
        }),
    );
    return { headers, body: Buffer.from(part.slice(split + 4), 'latin1') };
  });
}

describe('GET /_matrix/federation/v1/media/download|thumbnail/{mediaId}', () => {
  it('answers multipart/mixed: the JSON metadata, then the bytes with their headers', async () => {
    const mediaId = await upload(png, 'image/png', 'cat.png');
    for (const path of [
      `/_matrix/federation/v1/media/download/${mediaId}`,
      `/_matrix/federation/v1/media/thumbnail/${mediaId}?width=32&height=32&method=scale`,
    ]) {
      const answer = await federationGet(path);
      expect(answer.status).toBe(200);
      const [metadata, file] = parseMultipart(answer.contentType, answer.body);
      expect(metadata?.headers.get('content-type')).toBe('application/json');
      expect(JSON.parse(metadata?.body.toString('utf8') ?? '')).toEqual({});
      expect(file?.headers.get('content-type')).toBe('image/png');
      expect(file?.headers.get('content-disposition')).toBe('inline; filename="cat.png"');
      expect(new Uint8Array(file?.body ?? [])).toEqual(png);
      await spec.expectValid('GET', path, 200, {});
    }
    // X-Matrix is required; unknown media is 404.
    expect(
      (await federationGet(`/_matrix/federation/v1/media/download/${mediaId}`, false)).status,
    ).toBe(401);
    const unknown = await federationGet('/_matrix/federation/v1/media/download/unknown');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body.toString('utf8'))['errcode']).toBe('M_NOT_FOUND');
  });
});

describe("a user of B downloads A's media", () => {
  it('fetches it once, then serves it from the cache with the same headers', async () => {
    const mediaId = await upload(png, 'image/png', 'cat.png');
    const local = await get(a, `/_matrix/client/v1/media/download/a.test/${mediaId}`, alice);
    const before = b.services.media.remoteFetches;
    const first = await get(b, `/_matrix/client/v1/media/download/a.test/${mediaId}`);
    expect(first.status).toBe(200);
    expect(new Uint8Array(await first.arrayBuffer())).toEqual(png);
    for (const header of ['content-type', 'content-disposition', 'content-security-policy']) {
      expect(first.headers.get(header)).toBe(local.headers.get(header));
    }
    expect(first.headers.get('content-disposition')).toBe('inline; filename="cat.png"');
    expect(first.headers.get('x-content-type-options')).toBe('nosniff');
    expect(local.headers.get('x-content-type-options')).toBe('nosniff');
    expect(b.services.media.remoteFetches).toBe(before + 1);

    const second = await get(b, `/_matrix/client/v1/media/download/a.test/${mediaId}/dog.png`);
    expect(second.status).toBe(200);
    expect(second.headers.get('content-disposition')).toBe('inline; filename="dog.png"');
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(png);
    const thumb = await get(
      b,
      `/_matrix/client/v1/media/thumbnail/a.test/${mediaId}?width=8&height=8`,
    );
    expect(thumb.status).toBe(200);
    const legacy = await get(b, `/_matrix/media/v3/download/a.test/${mediaId}`, undefined);
    expect(new Uint8Array(await legacy.arrayBuffer())).toEqual(png);
    expect(b.services.media.remoteFetches).toBe(before + 1);
  });

  it('shares one fetch between concurrent downloads', async () => {
    const bytes = new Uint8Array(3000).map((_, i) => i % 251);
    const mediaId = await upload(bytes, 'application/pdf', 'paper.pdf');
    const before = b.services.media.remoteFetches;
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        get(b, `/_matrix/client/v1/media/download/a.test/${mediaId}`),
      ),
    );
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toBe('application/pdf');
      expect(answer.headers.get('content-disposition')).toBe('attachment; filename="paper.pdf"');
      expect(new Uint8Array(await answer.arrayBuffer())).toEqual(bytes);
    }
    expect(b.services.media.remoteFetches).toBe(before + 1);
  });

  it('answers 404 for allow_remote=false and for unknown remote media', async () => {
    const mediaId = await upload(png, 'image/png', 'x.png');
    const before = b.services.media.remoteFetches;
    for (const path of [
      `/_matrix/client/v1/media/download/a.test/${mediaId}?allow_remote=false`,
      '/_matrix/client/v1/media/download/a.test/doesNotExist',
    ]) {
      const answer = await get(b, path);
      expect(answer.status).toBe(404);
      const body = await answer.json();
      expect(body).toMatchObject({ errcode: 'M_NOT_FOUND' });
      await clientSpec.expectValid('GET', path, 404, body);
    }
    expect(b.services.media.remoteFetches).toBe(before + 1);
  });

  it('never fetches remote media for the unauthenticated v3/r0 paths (spec v1.11 freeze)', async () => {
    const mediaId = await upload(png, 'image/png', 'anon.png');
    const before = b.services.media.remoteFetches;
    for (const path of [
      `/_matrix/media/v3/download/a.test/${mediaId}`,
      `/_matrix/media/r0/download/a.test/${mediaId}/anon.png`,
      `/_matrix/media/v3/thumbnail/a.test/${mediaId}?width=8&height=8`,
      '/_matrix/media/r0/download/10.0.0.5:8448/x',
    ]) {
      const answer = await fetch(b.url + path); // no token (get's default is bob's)
      expect(answer.status, path).toBe(404);
      expect(await answer.json()).toMatchObject({ errcode: 'M_NOT_FOUND' });
    }
    expect(b.services.media.remoteFetches).toBe(before);
    // With a token the deprecated path fetches; then anyone gets the cached copy.
    expect((await get(b, `/_matrix/media/v3/download/a.test/${mediaId}`)).status).toBe(200);
    const cached = await fetch(`${b.url}/_matrix/media/v3/download/a.test/${mediaId}`);
    expect(new Uint8Array(await cached.arrayBuffer())).toEqual(png);
    expect(b.services.media.remoteFetches).toBe(before + 1);
  });

  it('refuses remote media over media.max_remote_bytes with 502 M_TOO_LARGE and caches nothing', async () => {
    const mediaId = await upload(new Uint8Array(5000), 'application/octet-stream', 'big.bin');
    const path = `/_matrix/client/v1/media/download/a.test/${mediaId}`;
    const answer = await get(b, path);
    expect(answer.status).toBe(502);
    const body = await answer.json();
    expect(body).toMatchObject({ errcode: 'M_TOO_LARGE' });
    await clientSpec.expectValid('GET', path, 502, body);
    const rows = await b.services.ctx.db.query(
      'SELECT file_id FROM remote_media WHERE media_id = $1',
      [mediaId],
    );
    expect(rows).toEqual([]);
  });
});

describe("the cache of other servers' media expires (media.remote_media_lifetime: 1d)", () => {
  const DAY = 86_400_000;
  const path = (mediaId: string) => `/_matrix/client/v1/media/download/a.test/${mediaId}`;
  const rowOf = (mediaId: string) =>
    b.services.ctx.db.queryOne<{ file_id: string; last_access_ts: number | string }>(
      "SELECT file_id, last_access_ts FROM remote_media WHERE server_name = 'a.test' AND media_id = $1",
      [mediaId],
    );
  const fileOf = (fileId: string) =>
    join(b.services.ctx.config.dataDir, 'media', fileId.slice(0, 2), fileId);
  const setLastAccess = (mediaId: string, ts: number) =>
    b.services.ctx.db.execute('UPDATE remote_media SET last_access_ts = $1 WHERE media_id = $2', [
      ts,
      mediaId,
    ]);

  it('deletes what was not served for the lifetime (row and file), keeps what was, fetches it again', async () => {
    const idle = await upload(png, 'image/png', 'idle.png');
    const used = await upload(new Uint8Array([1, 2, 3]), 'text/plain', 'used.txt');
    for (const mediaId of [idle, used]) expect((await get(b, path(mediaId))).status).toBe(200);
    const idleFile = (await rowOf(idle))?.file_id ?? '';
    const usedFile = (await rowOf(used))?.file_id ?? '';
    expect(existsSync(fileOf(idleFile))).toBe(true);

    // `idle` was last served two days ago; `used` 23 hours ago, and is downloaded now.
    const now = Date.now();
    await setLastAccess(idle, now - 2 * DAY);
    await setLastAccess(used, now - 23 * 3_600_000);
    const fetches = b.services.media.remoteFetches;
    expect(new Uint8Array(await (await get(b, path(used))).arrayBuffer())).toEqual(
      new Uint8Array([1, 2, 3]),
    );
    expect(b.services.media.remoteFetches).toBe(fetches);
    // The download recorded its access (the stored one was over an hour old) …
    expect(Number((await rowOf(used))?.last_access_ts)).toBeGreaterThanOrEqual(now);
    // … and a second one within the hour writes nothing.
    await setLastAccess(used, now - 30 * 60_000);
    await get(b, path(used));
    expect(Number((await rowOf(used))?.last_access_ts)).toBe(now - 30 * 60_000);
    await setLastAccess(used, now);

    // Two hours on: `idle` (older than a day) goes, row and file; `used` and the rest stay.
    expect(await b.services.media.expireRemoteMedia(now + 2 * 3_600_000)).toBe(1);
    expect(await rowOf(idle)).toBeUndefined();
    expect(existsSync(fileOf(idleFile))).toBe(false);
    expect((await rowOf(used))?.file_id).toBe(usedFile);
    expect(existsSync(fileOf(usedFile))).toBe(true);

    // The next download fetches it again, into a new file.
    const again = await get(b, path(idle));
    expect(again.status).toBe(200);
    expect(again.headers.get('content-disposition')).toBe('inline; filename="idle.png"');
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(png);
    expect(b.services.media.remoteFetches).toBe(fetches + 1);
    const refetched = (await rowOf(idle))?.file_id;
    expect(refetched).toBeDefined();
    expect(refetched).not.toBe(idleFile);
    expect(existsSync(fileOf(refetched ?? ''))).toBe(true);
  });

  it('fetches again a file gone under its row (removed between the row read and the file read)', async () => {
    const mediaId = await upload(png, 'image/png', 'gone.png');
    expect((await get(b, path(mediaId))).status).toBe(200);
    const fileId = (await rowOf(mediaId))?.file_id ?? '';
    rmSync(fileOf(fileId));
    const fetches = b.services.media.remoteFetches;
    const answer = await get(b, path(mediaId));
    expect(answer.status).toBe(200);
    expect(new Uint8Array(await answer.arrayBuffer())).toEqual(png);
    expect(b.services.media.remoteFetches).toBe(fetches + 1);
    expect((await rowOf(mediaId))?.file_id).not.toBe(fileId);
  });
});

describe('asynchronous uploads', () => {
  async function create(token = alice) {
    return a.client.request('POST', '/_matrix/media/v1/create', { token, body: {} });
  }

  function put(mediaId: string, bytes: Uint8Array, token = alice) {
    return a.client.request('PUT', `/_matrix/media/v3/upload/a.test/${mediaId}?filename=late.png`, {
      token,
      rawBody: bytes,
      headers: { 'Content-Type': 'image/png' },
    });
  }

  it('creates a URI, waits for its content, and takes the content once from its creator', async () => {
    const created = await create();
    expect(created.status).toBe(200);
    await clientSpec.expectValid('POST', '/_matrix/media/v1/create', 200, created.body);
    const uri = String(created.body['content_uri']);
    const mediaId = /^mxc:\/\/a\.test\/([A-Za-z0-9_-]+)$/.exec(uri)?.[1] ?? '';
    expect(created.body['unused_expires_at']).toBeGreaterThan(Date.now());

    // Before the upload: a short wait, then 504 M_NOT_YET_UPLOADED (client and federation).
    const early = `/_matrix/client/v1/media/download/a.test/${mediaId}?timeout_ms=200`;
    const started = Date.now();
    const notYet = await get(a, early, alice);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(notYet.status).toBe(504);
    const notYetBody = await notYet.json();
    expect(notYetBody).toMatchObject({ errcode: 'M_NOT_YET_UPLOADED' });
    await clientSpec.expectValid('GET', early, 504, notYetBody);
    const fedPath = `/_matrix/federation/v1/media/download/${mediaId}?timeout_ms=100`;
    const fedEarly = await federationGet(fedPath);
    expect(fedEarly.status).toBe(504);
    await spec.expectValid('GET', fedPath, 504, JSON.parse(fedEarly.body.toString('utf8')));

    // Another user may not upload it.
    const stranger = await put(mediaId, png, eve);
    expect(stranger.status).toBe(403);
    expect(stranger.body['errcode']).toBe('M_FORBIDDEN');

    // A download waiting (locally and from B) gets the bytes once the creator uploads them.
    const waiting = get(
      a,
      `/_matrix/client/v1/media/download/a.test/${mediaId}?timeout_ms=10000`,
      alice,
    );
    const remoteWaiting = get(
      b,
      `/_matrix/client/v1/media/download/a.test/${mediaId}?timeout_ms=10000`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const uploaded = await put(mediaId, png);
    expect(uploaded.status).toBe(200);
    expect(uploaded.body).toEqual({});
    await clientSpec.expectValid(
      'PUT',
      `/_matrix/media/v3/upload/a.test/${mediaId}`,
      200,
      uploaded.body,
    );
    for (const answer of [await waiting, await remoteWaiting]) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-disposition')).toBe('inline; filename="late.png"');
      expect(new Uint8Array(await answer.arrayBuffer())).toEqual(png);
    }

    const again = await put(mediaId, png);
    expect(again.status).toBe(409);
    expect(again.body['errcode']).toBe('M_CANNOT_OVERWRITE_MEDIA');
    await clientSpec.expectValid(
      'PUT',
      `/_matrix/media/v3/upload/a.test/${mediaId}`,
      409,
      again.body,
    );
    const unknown = await put('neverCreated', png);
    expect(unknown.status).toBe(404);
    const elsewhere = await a.client.request('PUT', `/_matrix/media/v3/upload/b.test/${mediaId}`, {
      token: alice,
      rawBody: png,
    });
    expect(elsewhere.status).toBe(404);
  });

  it('takes one of two racing PUTs to one URI (one 200, one 409) and keeps its bytes', async () => {
    const first = new Uint8Array(200_000).fill(1);
    const second = new Uint8Array(200_000).fill(2);
    const idOf = (created: { body: Record<string, unknown> }) =>
      /([A-Za-z0-9_-]+)$/.exec(String(created.body['content_uri']))?.[1] ?? '';
    const download = async (mediaId: string) =>
      new Uint8Array(
        await (
          await get(a, `/_matrix/client/v1/media/download/a.test/${mediaId}`, alice)
        ).arrayBuffer(),
      );

    // Over HTTP (one process).
    const mediaId = idOf(await create());
    const answers = await Promise.all([put(mediaId, first), put(mediaId, second)]);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]);
    const winner = answers[0]?.status === 200 ? first : second;
    expect(await download(mediaId)).toEqual(winner);

    // Two writers that do not share in-memory state (as two processes on one database).
    const raced = idOf(await create());
    const userId = '@alice:a.test';
    const other = new MediaService(a.services.ctx);
    const results = await Promise.allSettled([
      a.services.media.uploadTo(userId, 'a.test', raced, first, 'image/png', undefined),
      other.uploadTo(userId, 'a.test', raced, second, 'image/png', undefined),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((result) => result.status === 'rejected');
    expect(String((refused as PromiseRejectedResult).reason)).toMatch(/already uploaded/);
    expect(await download(raced)).toEqual(results[0]?.status === 'fulfilled' ? first : second);
  });

  it('caps the pending URIs of a user with 429 M_LIMIT_EXCEEDED', async () => {
    const token = (await a.client.registerUser('busy')).accessToken;
    for (let i = 0; i < 3; i += 1) expect((await create(token)).status).toBe(200);
    const refused = await create(token);
    expect(refused.status).toBe(429);
    expect(refused.body['errcode']).toBe('M_LIMIT_EXCEEDED');
    await clientSpec.expectValid('POST', '/_matrix/media/v1/create', 429, refused.body);
    // Others are not affected.
    expect((await create(eve)).status).toBe(200);
  });

  it('takes content larger than the client API body limit (media.max_upload_bytes applies)', async () => {
    const created = await create();
    const mediaId = /([A-Za-z0-9_-]+)$/.exec(String(created.body['content_uri']))?.[1] ?? '';
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 7);
    const uploaded = await put(mediaId, big);
    expect(uploaded.status).toBe(200);
    const answer = await get(a, `/_matrix/client/v1/media/download/a.test/${mediaId}`, alice);
    expect((await answer.arrayBuffer()).byteLength).toBe(big.byteLength);
  });
});

describe('the multipart reader of remote answers', () => {
  it('reads a preamble, header-less parts, a Location part and file names', () => {
    const raw = Buffer.from(
      'preamble\r\n--xyz\r\n\r\n{}\r\n--xyz\r\nLocation: https://cdn.example/f\r\n\r\n\r\n--xyz--\r\n',
      'latin1',
    );
    const parts = serverParse(raw);
    expect(parts).toHaveLength(2);
    expect(parts?.[0]?.body.toString()).toBe('{}');
    expect(parts?.[1]?.headers.get('location')).toBe('https://cdn.example/f');
    expect(serverParse(Buffer.from('--xyz\r\n\r\n{}', 'latin1'))).toBeUndefined();
    expect(filenameOf(`attachment; filename*=utf-8''%C3%A9t%C3%A9.txt`)).toBe('été.txt');
    expect(filenameOf('inline; filename="a \\"b\\".png"')).toBe('a "b".png');
    expect(filenameOf('inline')).toBeUndefined();
  });
});

describe('the address check of Location URLs (the outbound address policy)', () => {
  it('refuses NAT64, private, loopback and reserved addresses; passes public ones', async () => {
    for (const host of [
      '[64:ff9b::7f00:1]',
      '64:ff9b::a00:5',
      '127.0.0.1',
      '[::ffff:127.0.0.1]',
      '10.0.0.5',
      '198.18.0.1',
      '240.0.0.1',
      '[2002::1]',
      'localhost',
    ]) {
      const url = new URL(
        `https://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}/`,
      );
      expect(await LOCATION_POLICY.allowsUrl(url), host).toBe(false);
    }
    expect(await LOCATION_POLICY.allowsUrl(new URL('https://93.184.215.14/'))).toBe(true);
    expect(await LOCATION_POLICY.allowsUrl(new URL('https://[2606:4700::1]/'))).toBe(true);
  });
});

describe('remote answers of other shapes (a hand-written peer.test)', () => {
  const multipart = (second: string) =>
    `--b0\r\nContent-Type: application/json\r\n\r\n{}\r\n--b0\r\n${second}\r\n--b0--\r\n`;
  const download = async (mediaId: string) => {
    const answer = await get(b, `/_matrix/client/v1/media/download/peer.test/${mediaId}`);
    return {
      status: answer.status,
      headers: answer.headers,
      bytes: Buffer.from(await answer.arrayBuffer()),
    };
  };

  it('keeps the file name and type of the bytes part', async () => {
    peerAnswers.set('named', {
      status: 200,
      type: 'multipart/mixed; boundary=b0',
      body: multipart(
        `Content-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9.txt\r\n\r\nhello`,
      ),
    });
    const answer = await download('named');
    expect(answer.status).toBe(200);
    expect(answer.bytes.toString()).toBe('hello');
    expect(answer.headers.get('content-type')).toBe('text/plain');
    expect(answer.headers.get('content-disposition')).toBe(
      `inline; filename*=utf-8''%C3%A9t%C3%A9.txt`,
    );
  });

  it('refuses a Location on a private address, a non-https one, and malformed answers (502, nothing kept)', async () => {
    peerAnswers.set('local', {
      status: 200,
      type: 'multipart/mixed; boundary=b0',
      body: multipart('Location: https://127.0.0.1:1/file\r\n\r\n'),
    });
    peerAnswers.set('plain', {
      status: 200,
      type: 'multipart/mixed; boundary=b0',
      body: multipart('Location: http://example.org/file\r\n\r\n'),
    });
    peerAnswers.set('broken', {
      status: 200,
      type: 'multipart/mixed; boundary=b0',
      body: '--b0\r\nno end',
    });
    peerAnswers.set('old', {
      status: 404,
      type: 'application/json',
      body: '{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}',
    });
    for (const mediaId of ['local', 'plain', 'broken']) {
      const answer = await download(mediaId);
      expect(answer.status, mediaId).toBe(502);
      expect(JSON.parse(answer.bytes.toString())['errcode']).toBe('M_UNKNOWN');
    }
    // Unknown there on both endpoints: the federation one says M_UNRECOGNIZED, so the
    // deprecated one is asked, and its 404 stands.
    expect((await download('old')).status).toBe(404);
    expect(legacyQueries.at(-1)).toMatch(/^old\?/);
    const rows = await b.services.ctx.db.query(
      'SELECT media_id FROM remote_media WHERE server_name = $1',
      ['peer.test'],
    );
    expect(rows).toEqual([{ media_id: 'named' }]);
  });

  it('caps concurrent remote fetches: one more than the cap gets 429 M_LIMIT_EXCEEDED', async () => {
    const media = b.services.media;
    for (const id of ['slow1', 'slow2', 'slow3']) {
      peerAnswers.set(id, {
        status: 200,
        type: 'multipart/mixed; boundary=b0',
        body: multipart(`Content-Type: text/plain\r\n\r\n${id}`),
        delayMs: 800,
      });
    }
    media.maxConcurrentFetches = 2;
    try {
      const running = [download('slow1'), download('slow2'), download('slow1')];
      await new Promise((resolve) => setTimeout(resolve, 200));
      const refused = await download('slow3');
      expect(refused.status).toBe(429);
      const body = JSON.parse(refused.bytes.toString());
      expect(body).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED' });
      expect(body['retry_after_ms']).toBeGreaterThan(0);
      for (const answer of await Promise.all(running)) expect(answer.status).toBe(200);
      // Slots come back: the refused one succeeds now.
      expect((await download('slow3')).bytes.toString()).toBe('slow3');
    } finally {
      media.maxConcurrentFetches = 8;
    }
  });

  const unrecognized = (status: number) => ({
    status,
    type: 'application/json',
    body: '{"errcode":"M_UNRECOGNIZED","error":"Unrecognized request"}',
  });

  it('falls back to the deprecated /_matrix/media/v3/download when the federation endpoint is unrecognized', async () => {
    const before = b.services.media.remoteFetches;
    for (const [mediaId, status] of [
      ['legacy404', 404],
      ['legacy400', 400],
      ['legacy405', 405],
    ] as const) {
      peerAnswers.set(mediaId, unrecognized(status));
      legacyAnswers.set(mediaId, {
        status: 200,
        headers: {
          'Content-Type': 'image/png',
          'Content-Disposition': 'inline; filename="old.png"',
        },
        body: Buffer.from(png),
      });
      const answer = await download(mediaId);
      expect(answer.status, mediaId).toBe(200);
      expect(new Uint8Array(answer.bytes)).toEqual(png);
      expect(answer.headers.get('content-type')).toBe('image/png');
      expect(answer.headers.get('content-disposition')).toBe('inline; filename="old.png"');
      // Spec: the fallback asks with allow_remote=false.
      const asked = legacyQueries.at(-1) ?? '';
      expect(asked.startsWith(`${mediaId}?`)).toBe(true);
      expect(new URLSearchParams(asked.slice(asked.indexOf('?'))).get('allow_remote')).toBe(
        'false',
      );
    }
    // Cached as any other remote file: served again without asking.
    const asked = legacyQueries.length;
    expect((await download('legacy404')).bytes).toEqual(Buffer.from(png));
    expect(legacyQueries.length).toBe(asked);
    expect(b.services.media.remoteFetches).toBe(before + 3);
  });

  it('holds the fallback to the same size cap and errors, and falls back on M_UNRECOGNIZED only', async () => {
    peerAnswers.set('legacyBig', unrecognized(404));
    legacyAnswers.set('legacyBig', {
      status: 200,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(5000),
    });
    const big = await download('legacyBig');
    expect(big.status).toBe(502);
    expect(JSON.parse(big.bytes.toString())['errcode']).toBe('M_TOO_LARGE');

    peerAnswers.set('legacyBroken', unrecognized(404));
    legacyAnswers.set('legacyBroken', {
      status: 500,
      headers: { 'Content-Type': 'application/json' },
      body: '{"errcode":"M_UNKNOWN","error":"boom"}',
    });
    const broken = await download('legacyBroken');
    expect(broken.status).toBe(502);
    expect(JSON.parse(broken.bytes.toString())['errcode']).toBe('M_UNKNOWN');

    // Other errors of the federation endpoint are final: the deprecated one is not asked.
    const asked = legacyQueries.length;
    for (const [mediaId, answer, status] of [
      ['modernMissing', { status: 404, body: '{"errcode":"M_NOT_FOUND","error":"no"}' }, 404],
      ['modernBad', { status: 400, body: '{"errcode":"M_UNKNOWN","error":"no"}' }, 502],
      ['modernForbidden', { status: 403, body: '{"errcode":"M_FORBIDDEN","error":"no"}' }, 502],
    ] as const) {
      peerAnswers.set(mediaId, { ...answer, type: 'application/json' });
      legacyAnswers.set(mediaId, {
        status: 200,
        headers: { 'Content-Type': 'text/plain' },
        body: 'must not be served',
      });
      expect((await download(mediaId)).status, mediaId).toBe(status);
    }
    expect(legacyQueries.length).toBe(asked);
    const rows = await b.services.ctx.db.query<{ media_id: string }>(
      "SELECT media_id FROM remote_media WHERE server_name = 'peer.test' AND media_id IN ('legacyBig', 'legacyBroken', 'modernMissing', 'modernBad', 'modernForbidden')",
    );
    expect(rows).toEqual([]);
  });
});
