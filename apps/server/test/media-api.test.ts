/**
 * The content repository over real HTTP (spec client-server-api "Content repository"):
 * upload, authenticated and legacy download, `Content-Disposition`, size limits, thumbnails.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

describe('media', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ file: { media: { max_upload_bytes: 1024 } } });
    token = (await server.client.registerUser('alice')).accessToken;
  });
  afterAll(() => server.stop());

  async function upload(bytes: Uint8Array | string, contentType: string, filename?: string) {
    const query = filename === undefined ? '' : `?filename=${encodeURIComponent(filename)}`;
    return server.client.request('POST', `/_matrix/media/v3/upload${query}`, {
      token,
      rawBody: bytes,
      headers: { 'Content-Type': contentType },
    });
  }

  async function download(path: string, auth = true) {
    return fetch(server.url + path, auth ? { headers: { Authorization: `Bearer ${token}` } } : {});
  }

  it('uploads, then serves the bytes with type and name on the authenticated and legacy paths', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
    const up = await upload(png, 'image/png', 'cat.png');
    expect(up.status).toBe(200);
    const uri = String(up.body['content_uri']);
    const match = /^mxc:\/\/test\.local\/([A-Za-z0-9_-]+)$/.exec(uri);
    expect(match).not.toBeNull();
    const mediaId = match?.[1] ?? '';
    // The file is on disk under the data directory.
    expect(existsSync(join(server.dataDir, 'media', mediaId.slice(0, 2), mediaId))).toBe(true);
    expect(readdirSync(join(server.dataDir, 'media', mediaId.slice(0, 2)))).toEqual([mediaId]);

    const v1 = await download(`/_matrix/client/v1/media/download/test.local/${mediaId}`);
    expect(v1.status).toBe(200);
    expect(new Uint8Array(await v1.arrayBuffer())).toEqual(png);
    expect(v1.headers.get('content-type')).toBe('image/png');
    expect(v1.headers.get('content-disposition')).toBe('inline; filename="cat.png"');
    expect(v1.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
    expect(v1.headers.get('content-security-policy')).toContain('sandbox');

    const named = await download(
      `/_matrix/client/v1/media/download/test.local/${mediaId}/other.png`,
    );
    expect(named.headers.get('content-disposition')).toBe('inline; filename="other.png"');

    const unauthenticated = await download(
      `/_matrix/client/v1/media/download/test.local/${mediaId}`,
      false,
    );
    expect(unauthenticated.status).toBe(401);
    for (const legacy of ['v3', 'r0']) {
      const response = await download(
        `/_matrix/media/${legacy}/download/test.local/${mediaId}`,
        false,
      );
      expect(response.status).toBe(200);
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(png);
    }
    // Images are their own thumbnail (this server does not scale images).
    const thumb = await download(
      `/_matrix/client/v1/media/thumbnail/test.local/${mediaId}?width=32&height=32&method=crop`,
    );
    expect(thumb.status).toBe(200);
    expect(new Uint8Array(await thumb.arrayBuffer())).toEqual(png);
  });

  it('serves risky types as attachments, non-ASCII names with filename*, and no name when none was given', async () => {
    const html = await upload('<script>alert(1)</script>', 'text/html', 'päge "1".html');
    const htmlId = String(html.body['content_uri']).split('/').pop();
    const served = await download(`/_matrix/client/v1/media/download/test.local/${htmlId}`);
    expect(served.headers.get('content-disposition')).toBe(
      `attachment; filename*=utf-8''${encodeURIComponent('päge "1".html')}`,
    );
    const thumb = await download(`/_matrix/client/v1/media/thumbnail/test.local/${htmlId}`);
    expect(thumb.status).toBe(400);

    const plain = await upload('hello', 'text/plain');
    const plainId = String(plain.body['content_uri']).split('/').pop();
    const text = await download(`/_matrix/media/r0/download/test.local/${plainId}`, false);
    expect(text.headers.get('content-disposition')).toBe('inline');
    expect(await text.text()).toBe('hello');

    const untyped = await server.client.request('POST', '/_matrix/media/r0/upload', {
      token,
      rawBody: new Uint8Array([1, 2, 3]),
    });
    const untypedId = String(untyped.body['content_uri']).split('/').pop();
    const octets = await download(`/_matrix/client/v1/media/download/test.local/${untypedId}`);
    expect(octets.headers.get('content-type')).toBe('application/octet-stream');
    expect(octets.headers.get('content-disposition')).toBe('attachment');
  });

  it('refuses uploads over the configured limit with 413 M_TOO_LARGE and stores nothing', async () => {
    const before = existsSync(join(server.dataDir, 'media'))
      ? readdirSync(join(server.dataDir, 'media'), { recursive: true }).length
      : 0;
    const big = await upload(new Uint8Array(1025), 'application/octet-stream');
    expect(big.status).toBe(413);
    expect(big.body['errcode']).toBe('M_TOO_LARGE');
    expect(readdirSync(join(server.dataDir, 'media'), { recursive: true }).length).toBe(before);
    const exact = await upload(new Uint8Array(1024), 'application/octet-stream');
    expect(exact.status).toBe(200);
    const noToken = await server.client.request('POST', '/_matrix/media/v3/upload', {
      rawBody: 'x',
    });
    expect(noToken.status).toBe(401);
  });

  it('reports the limit in media/config on every path', async () => {
    for (const path of [
      '/_matrix/client/v1/media/config',
      '/_matrix/media/v3/config',
      '/_matrix/media/r0/config',
    ]) {
      const response = await server.client.request('GET', path, { token });
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ 'm.upload.size': 1024 });
    }
  });

  it('answers 404 M_NOT_FOUND for unknown, remote not to fetch and malformed media IDs', async () => {
    for (const path of [
      '/_matrix/client/v1/media/download/test.local/doesNotExist',
      '/_matrix/client/v1/media/download/other.server/abc?allow_remote=false',
      `/_matrix/client/v1/media/download/test.local/${encodeURIComponent('../weft.db')}`,
      '/_matrix/client/v1/media/thumbnail/test.local/doesNotExist',
    ]) {
      const response = await download(path);
      expect(response.status).toBe(404);
      expect(((await response.json()) as { errcode: string }).errcode).toBe('M_NOT_FOUND');
    }
    expect(readFileSync(join(server.dataDir, 'weft.db')).byteLength).toBeGreaterThan(0);
    // A remote server that cannot be reached: 502.
    const unreachable = await download('/_matrix/client/v1/media/download/other.invalid/abc');
    expect(unreachable.status).toBe(502);
  });
});
