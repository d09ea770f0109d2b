/**
 * URL previews (`GET /_matrix/client/v1/media/preview_url`, `media.url_preview:` in weft.yaml)
 * against a real page server on 127.0.0.1 (and a second one on 127.0.0.2): Open Graph tags, the
 * `<title>` / `<meta name="description">` fallback, charsets, `og:image` stored as local media and
 * served from its `mxc://` URI, an image URL previewed as itself, redirects (at most 5, each
 * target checked by the address policy again), a page over the 1 MiB read cap previewed from what
 * was read, a slow page timing out, the cache, the disabled answer (404 `M_UNRECOGNIZED`), and
 * the 200 answer against the spec's OpenAPI schema.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

const spec = new ClientServerSpec();
const V1 = '/_matrix/client/v1/media';

/** A 1×1 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

/** A page server: `routes` by path; counts the requests per path. */
class PageServer {
  readonly hits = new Map<string, number>();
  readonly #server: Server;
  base = '';

  constructor(routes: Record<string, (res: ServerResponse) => void>) {
    this.#server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
      res.on('error', () => {});
      const route = routes[path];
      if (route === undefined) {
        res.writeHead(404).end();
        return;
      }
      route(res);
    });
  }

  async start(host: string): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, host, resolve));
    this.base = `http://${host}:${(this.#server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

const html =
  (body: string, type = 'text/html; charset=utf-8') =>
  (res: ServerResponse) => {
    res.writeHead(200, { 'Content-Type': type }).end(body);
  };
const redirect =
  (to: () => string) =>
  (res: ServerResponse): void => {
    res.writeHead(302, { Location: to() }).end();
  };

const other = new PageServer({
  '/target': html('<html><head><title>Other host</title></head></html>'),
});

const pages: PageServer = new PageServer({
  '/og': html(`<!doctype html><html><head>
    <meta property="og:title" content="Weft &amp; friends">
    <meta property="og:description" content="A page with Open Graph tags">
    <meta property="og:site_name" content="Example">
    <meta property="og:url" content="https://example.org/og">
    <meta property="og:image" content="/image.png">
    <meta property="og:image:width" content="1"><meta property="og:image:height" content="1">
    <title>Ignored title</title></head><body>x</body></html>`),
  '/title': html(`<html><head><TITLE>  Plain
    title </TITLE><meta name="description" content="Described"></head></html>`),
  '/latin1-header': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=iso-8859-1' });
    res.end(Buffer.from('<title>Caf\xe9 cr\xe8me</title>', 'latin1'));
  },
  '/latin1-meta': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(Buffer.from('<meta charset="windows-1252"><title>Na\xefve \x80</title>', 'latin1'));
  },
  '/image.png': (res) => {
    res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': PNG.byteLength });
    res.end(PNG);
  },
  '/r1': redirect(() => `${pages.base}/r2`),
  '/r2': redirect(() => '/r3'),
  '/r3': redirect(() => '/r4'),
  '/r4': redirect(() => '/r5'),
  '/r5': redirect(() => '/title'),
  '/r0': redirect(() => '/r1'),
  '/to-other': redirect(() => `${other.base}/target`),
  '/huge': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write('<html><head><meta property="og:title" content="Huge"></head><body>');
    const filler = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 48; i++) res.write(filler); // 3 MiB, more than the 1 MiB read
    res.end('</body></html>');
  },
  '/slow': (res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write('<html><head>');
    // never ends
  },
  '/text': html('just text', 'text/plain'),
  '/big.png': (res) => {
    res.writeHead(200, { 'Content-Type': 'image/png' });
    res.end(Buffer.alloc(1536 * 1024, 7)); // over the page cap, under the upload limit
  },
  '/too-big.png': (res) => {
    res.writeHead(200, { 'Content-Type': 'image/png' });
    res.end(Buffer.alloc(3 * 1024 * 1024, 7)); // over the upload limit (2 MiB here)
  },
  '/og-too-big': html('<title>T</title><meta property="og:image" content="/too-big.png">'),
  '/gone': (res) => res.writeHead(500).end(),
  '/cached': html('<title>Cached</title>'),
});

describe('URL previews', () => {
  let server: TestServer;
  let token: string;

  beforeAll(async () => {
    await pages.start('127.0.0.1');
    await other.start('127.0.0.2');
    server = await startTestServer({
      file: {
        media: {
          max_upload_bytes: 2 * 1024 * 1024,
          url_preview: { enabled: true, allow_private_addresses: true },
        },
      },
    });
    token = (await server.client.registerUser('alice')).accessToken;
  });
  afterAll(async () => {
    await server?.stop();
    await pages.stop();
    await other.stop();
  });

  async function preview(s: TestServer, url: string, prefix = V1) {
    const path = `${prefix}/preview_url?url=${encodeURIComponent(url)}&ts=1510610716656`;
    return s.client.request('GET', path, { token });
  }

  it('parses Open Graph tags, stores og:image as media, and matches the spec schema', async () => {
    const response = await preview(server, `${pages.base}/og`);
    expect(response.status).toBe(200);
    const body = response.body;
    expect(body).toMatchObject({
      'og:title': 'Weft & friends',
      'og:description': 'A page with Open Graph tags',
      'og:site_name': 'Example',
      'og:url': 'https://example.org/og',
      'og:image:width': 1,
      'og:image:height': 1,
      'og:image:type': 'image/png',
      'matrix:image:size': PNG.byteLength,
    });
    const mxc = String(body['og:image']);
    expect(mxc).toMatch(/^mxc:\/\/test\.local\/[\w-]+$/);
    await spec.expectValid('GET', `${V1}/preview_url`, 200, body);
    const download = await fetch(`${server.url}${V1}/download/${mxc.slice('mxc://'.length)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(PNG);
  });

  it('falls back to <title> and <meta name="description">', async () => {
    const response = await preview(server, `${pages.base}/title`);
    expect(response.body).toEqual({ 'og:title': 'Plain title', 'og:description': 'Described' });
  });

  it('decodes the charset of the Content-Type header, else of <meta charset>', async () => {
    expect((await preview(server, `${pages.base}/latin1-header`)).body).toEqual({
      'og:title': 'Café crème',
    });
    expect((await preview(server, `${pages.base}/latin1-meta`)).body).toEqual({
      'og:title': 'Naïve €',
    });
  });

  it('previews an image URL as that image', async () => {
    const response = await preview(server, `${pages.base}/image.png`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      'og:image:type': 'image/png',
      'matrix:image:size': PNG.byteLength,
    });
    await spec.expectValid('GET', `${V1}/preview_url`, 200, response.body);
  });

  it('reads an image up to the upload limit, not the page cap; beyond, 502 M_TOO_LARGE', async () => {
    const big = await preview(server, `${pages.base}/big.png`);
    expect(big.status).toBe(200);
    expect(big.body['matrix:image:size']).toBe(1536 * 1024);
    const tooBig = await preview(server, `${pages.base}/too-big.png`);
    expect(tooBig.status).toBe(502);
    expect(tooBig.body['errcode']).toBe('M_TOO_LARGE');
    // A page whose og:image is too large previews without it.
    expect((await preview(server, `${pages.base}/og-too-big`)).body).toEqual({ 'og:title': 'T' });
  });

  it('follows up to 5 redirects, not 6', async () => {
    const five = await preview(server, `${pages.base}/r1`);
    expect(five.status).toBe(200);
    expect(five.body['og:title']).toBe('Plain title');
    const six = await preview(server, `${pages.base}/r0`);
    expect(six.status).toBe(502);
    expect(six.body['errcode']).toBe('M_UNKNOWN');
    expect(String(six.body['error'])).toContain('too many redirects');
  });

  it('previews a page over the 1 MiB read cap from what it read', async () => {
    const response = await preview(server, `${pages.base}/huge`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ 'og:title': 'Huge' });
  });

  it('times out on a slow page (502), naming only the host', async () => {
    server.services.media.previews.timeoutMs = 300;
    try {
      const response = await preview(server, `${pages.base}/slow?secret=1`);
      expect(response.status).toBe(502);
      expect(String(response.body['error'])).toContain('timed out');
      expect(String(response.body['error'])).not.toContain('secret');
      expect(String(response.body['error'])).not.toContain('/slow');
    } finally {
      server.services.media.previews.timeoutMs = 10_000;
    }
  });

  it('answers {} for a page neither HTML nor image, 502 for an error status or a bad URL', async () => {
    expect((await preview(server, `${pages.base}/text`)).body).toEqual({});
    expect((await preview(server, `${pages.base}/gone`)).status).toBe(502);
    const ftp = await preview(server, 'ftp://127.0.0.1/file');
    expect(ftp.status).toBe(400);
    expect(ftp.body['errcode']).toBe('M_INVALID_PARAM');
  });

  it('serves a cached preview without fetching again (and on the deprecated paths)', async () => {
    const first = await preview(server, `${pages.base}/cached`);
    expect(first.body).toEqual({ 'og:title': 'Cached' });
    const again = await preview(server, `${pages.base}/cached`, '/_matrix/media/v3');
    expect(again.body).toEqual({ 'og:title': 'Cached' });
    expect((await preview(server, `${pages.base}/cached`, '/_matrix/media/r0')).status).toBe(200);
    expect(pages.hits.get('/cached')).toBe(1);
  });

  describe('address policy', () => {
    let strict: TestServer;
    let strictToken: string;
    beforeAll(async () => {
      strict = await startTestServer({
        file: { media: { url_preview: { enabled: true, ip_range_whitelist: ['127.0.0.1'] } } },
      });
      strictToken = (await strict.client.registerUser('bob')).accessToken;
    });
    afterAll(() => strict?.stop());

    async function strictPreview(url: string) {
      return strict.client.request('GET', `${V1}/preview_url?url=${encodeURIComponent(url)}`, {
        token: strictToken,
      });
    }

    it('refuses a redirect to an address outside the allow list, before connecting', async () => {
      // 127.0.0.1 is allowed: its page previews.
      expect((await strictPreview(`${pages.base}/title`)).status).toBe(200);
      const before = other.hits.get('/target') ?? 0;
      // 127.0.0.2 is loopback, denied by default: refused directly and as a redirect target.
      const direct = await strictPreview(`${other.base}/target`);
      expect(direct.status).toBe(502);
      expect(String(direct.body['error'])).toContain('may not be previewed');
      const redirected = await strictPreview(`${pages.base}/to-other`);
      expect(redirected.status).toBe(502);
      expect(String(redirected.body['error'])).toContain('may not be previewed');
      expect(other.hits.get('/target') ?? 0).toBe(before);
      // The same redirect is followed by a server that allows private addresses.
      const allowed = await preview(server, `${pages.base}/to-other`);
      expect(allowed.body).toEqual({ 'og:title': 'Other host' });
    });
  });

  it('is not served when disabled (404 M_UNRECOGNIZED, as Synapse)', async () => {
    const off = await startTestServer();
    try {
      const user = await off.client.registerUser('carol');
      for (const prefix of [V1, '/_matrix/media/v3', '/_matrix/media/r0']) {
        const response = await off.client.request(
          'GET',
          `${prefix}/preview_url?url=${encodeURIComponent(`${pages.base}/title`)}`,
          { token: user.accessToken },
        );
        expect(response.status).toBe(404);
        expect(response.body['errcode']).toBe('M_UNRECOGNIZED');
      }
    } finally {
      await off.stop();
    }
  });

  it('validates media.url_preview in weft.yaml, off by default', () => {
    const flags = { dataDir: '/tmp/unused', listen: '127.0.0.1:0' };
    expect(buildConfig({}, flags).media.urlPreview).toEqual({
      enabled: false,
      allowPrivateAddresses: false,
      ipRangeWhitelist: [],
    });
    const bad = (urlPreview: unknown) => () =>
      buildConfig({ media: { url_preview: urlPreview } }, flags);
    expect(bad({ enabled: 'yes' })).toThrow(ConfigError);
    expect(bad({ enabled: 'yes' })).toThrow('media.url_preview.enabled has the wrong type');
    expect(bad({ ip_range_whitelist: ['10.0.0.0/40'] })).toThrow(
      'media.url_preview.ip_range_whitelist[0] is not an IP address or CIDR',
    );
    expect(bad([])).toThrow('media.url_preview must be a map');
  });
});
