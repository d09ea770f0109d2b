/**
 * URL previews (`GET /_matrix/client/v1/media/preview_url`,
 * https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv1mediapreview_url): the server
 * fetches an http(s) URL a client saw in a message and answers its Open Graph data
 * (open-graph.ts); the page's `og:image` is downloaded and stored as local media, answered as its
 * `mxc://` URI with `matrix:image:size`. A URL that is an image itself previews as that image.
 *
 * Every connection goes through the address policy (services/core/address-policy.ts) with the
 * `media.url_preview:` options: the URL's host, each redirect's target (at most
 * {@link MAX_REDIRECTS}) and the image's. A page is read up to {@link MAX_PAGE_BYTES} (the rest is
 * not read: the preview is made of what was, Open Graph tags being in the head); an image up to
 * the upload limit (larger: 502 `M_TOO_LARGE`). Each fetch has {@link FETCH_TIMEOUT_MS}. A page
 * neither HTML nor an image previews as `{}` (as Synapse). Failures answer 502 (as Synapse), their
 * messages naming the URL's host only. Previews are cached in memory per URL for an hour
 * (`ts` is not used: the spec lets the server answer a newer version), and concurrent requests
 * for one URL share one fetch.
 */
import type { IncomingMessage } from 'node:http';

import { MatrixError } from '@weft/transport';

import { LruMap } from '../../lru-map.ts';
import { AddressPolicy, DeniedAddressError, RequestTimeoutError } from '../core/address-policy.ts';
import type { ServerContext } from '../core/context.ts';
import { parseOpenGraph } from './open-graph.ts';
import type { MediaService } from './service.ts';

export const MAX_REDIRECTS = 5;
export const MAX_PAGE_BYTES = 1024 * 1024;
export const FETCH_TIMEOUT_MS = 10_000;
const CACHE_ENTRIES = 1000;
const CACHE_TTL_MS = 60 * 60 * 1000;
const USER_AGENT = 'Weft homeserver (URL preview; +https://matrix.org)';

type Preview = Record<string, unknown>;

/** A fetched resource: the final URL, its media type and the bytes read. */
interface Fetched {
  readonly url: URL;
  readonly contentType: string;
  readonly bytes: Uint8Array;
}

class FetchError extends Error {
  override readonly name = 'FetchError';
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge = false) {
    super(message);
    this.tooLarge = tooLarge;
  }
}

export class UrlPreviewService {
  readonly #ctx: ServerContext;
  readonly #media: MediaService;
  readonly #policy: AddressPolicy;
  readonly #cache = new LruMap<string, { readonly preview: Preview; readonly at: number }>(
    CACHE_ENTRIES,
  );
  readonly #inflight = new Map<string, Promise<Preview>>();
  /** Requests made for pages and images (tests: a cached preview is not fetched again). */
  fetches = 0;
  /** Time allowed per fetch, redirects and body included (tests shorten it). */
  timeoutMs = FETCH_TIMEOUT_MS;

  constructor(ctx: ServerContext, media: MediaService) {
    this.#ctx = ctx;
    this.#media = media;
    this.#policy = new AddressPolicy(ctx.config.media.urlPreview, 'the address of the URL');
  }

  get enabled(): boolean {
    return this.#ctx.config.media.urlPreview.enabled;
  }

  /** The preview of `urlText` for `userId` (who owns the stored image). */
  async preview(userId: string, urlText: string): Promise<Preview> {
    let url: URL;
    try {
      url = new URL(urlText);
    } catch {
      throw MatrixError.invalidParam('url is not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw MatrixError.invalidParam('Only http and https URLs can be previewed');
    }
    url.hash = '';
    const key = url.href;
    const cached = this.#cache.get(key);
    if (cached !== undefined && this.#ctx.now() - cached.at < CACHE_TTL_MS) return cached.preview;
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      // One slot of the media service's cap on outbound fetches, for the page and its image.
      const release = this.#media.acquireFetchSlot();
      pending = this.#build(userId, url).finally(() => {
        release();
        this.#inflight.delete(key);
      });
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #build(userId: string, url: URL): Promise<Preview> {
    const host = url.hostname;
    let page: Fetched;
    try {
      page = await this.#fetch(url, (type) =>
        type.startsWith('image/')
          ? { maxBytes: this.#media.maxUploadBytes, cut: false }
          : { maxBytes: MAX_PAGE_BYTES, cut: true },
      );
    } catch (error) {
      throw this.#failure(error, host);
    }
    let preview: Preview;
    const type = baseType(page.contentType);
    if (type.startsWith('image/')) {
      preview = await this.#storeImage(userId, page);
    } else if (type === 'text/html' || type === 'application/xhtml+xml') {
      preview = parseOpenGraph(page.bytes, page.contentType);
      const image = preview['og:image'];
      delete preview['og:image'];
      if (typeof image === 'string' && image !== '') {
        Object.assign(preview, await this.#image(userId, image, page.url));
      }
    } else {
      preview = {};
    }
    this.#cache.set(url.href, { preview, at: this.#ctx.now() });
    return preview;
  }

  /** `og:image` (relative to the page) fetched and stored; nothing when that fails. */
  async #image(userId: string, ref: string, base: URL): Promise<Preview> {
    let url: URL;
    try {
      url = new URL(ref, base);
    } catch {
      return {};
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return {};
    try {
      const image = await this.#fetch(url, (type) => {
        if (!type.startsWith('image/')) throw new FetchError('not an image');
        return { maxBytes: this.#media.maxUploadBytes, cut: false };
      });
      return await this.#storeImage(userId, image);
    } catch (error) {
      this.#ctx.log.debug('url preview: og:image not fetched', {
        host: url.hostname,
        error: (error as Error).message,
      });
      return {};
    }
  }

  async #storeImage(userId: string, image: Fetched): Promise<Preview> {
    const type = baseType(image.contentType);
    const uri = await this.#media.upload(userId, image.bytes, type, undefined);
    return { 'og:image': uri, 'og:image:type': type, 'matrix:image:size': image.bytes.byteLength };
  }

  #failure(error: unknown, host: string): MatrixError {
    if (error instanceof MatrixError) return error;
    if (error instanceof FetchError && error.tooLarge) {
      return new MatrixError(502, 'M_TOO_LARGE', `The content at ${host} is too large to preview`);
    }
    if (error instanceof DeniedAddressError) {
      return new MatrixError(502, 'M_UNKNOWN', `The address of ${host} may not be previewed`);
    }
    const why = error instanceof FetchError ? `: ${error.message}` : '';
    return new MatrixError(502, 'M_UNKNOWN', `Could not fetch a preview of ${host}${why}`);
  }

  /**
   * GETs `start`, following redirects (each target checked by the policy again), reading at most
   * the `maxBytes` that `limits` gives for the answer's media type: beyond, `cut` keeps what was
   * read (a page), otherwise it is a {@link FetchError} `tooLarge` (an image). `limits` may throw
   * to refuse the type before the body is read.
   */
  async #fetch(
    start: URL,
    limits: (type: string) => { readonly maxBytes: number; readonly cut: boolean },
  ): Promise<Fetched> {
    const deadline = Date.now() + this.timeoutMs;
    let url = start;
    for (let hop = 0; ; hop++) {
      this.fetches++;
      const response = await this.#request(url, deadline);
      const status = response.statusCode ?? 0;
      if (status >= 300 && status < 400 && response.headers.location !== undefined) {
        response.destroy();
        if (hop >= MAX_REDIRECTS) throw new FetchError('too many redirects');
        let next: URL;
        try {
          next = new URL(response.headers.location, url);
        } catch {
          throw new FetchError('a redirect to an invalid URL');
        }
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new FetchError('a redirect to a URL that is not http(s)');
        }
        url = next;
        continue;
      }
      if (status !== 200) {
        response.destroy();
        throw new FetchError(`status ${status}`);
      }
      const contentType = response.headers['content-type'] ?? 'application/octet-stream';
      let limit: { readonly maxBytes: number; readonly cut: boolean };
      try {
        limit = limits(baseType(contentType));
      } catch (error) {
        response.destroy();
        throw error;
      }
      const bytes = await readBody(response, limit.maxBytes, limit.cut);
      return { url, contentType, bytes };
    }
  }

  /** One GET through the policy ({@link AddressPolicy.request}: its check, lookup and deadline). */
  async #request(url: URL, deadline: number): Promise<IncomingMessage> {
    try {
      return await this.#policy.request(url, {
        headers: {
          'User-Agent': USER_AGENT,
          Accept: 'text/html, application/xhtml+xml, image/*;q=0.9, */*;q=0.1',
          'Accept-Language': 'en',
        },
        deadline,
      });
    } catch (error) {
      throw error instanceof RequestTimeoutError ? new FetchError('timed out') : error;
    }
  }
}

function baseType(contentType: string): string {
  return contentType.split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Reads up to `maxBytes`; beyond, `cut` keeps what was read, otherwise fails `tooLarge`. The
 * deadline is the request's: past it the policy destroys the response with a
 * {@link RequestTimeoutError}, seen here as an abort whose `errored` is that error.
 */
function readBody(response: IncomingMessage, maxBytes: number, cut: boolean): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const declared = Number(response.headers['content-length']);
    if (!cut && Number.isFinite(declared) && declared > maxBytes) {
      response.destroy();
      reject(new FetchError('too large', true));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (error?: Error) => {
      if (done) return;
      done = true;
      response.destroy();
      if (error) reject(error);
      else resolve(Buffer.concat(chunks, Math.min(size, maxBytes)));
    };
    response.on('data', (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > maxBytes) finish(cut ? undefined : new FetchError('too large', true));
    });
    response.on('end', () => finish());
    response.on('error', (error) => finish(error));
    response.on('aborted', () =>
      finish(
        new FetchError(
          response.errored instanceof RequestTimeoutError
            ? 'timed out'
            : 'the connection closed early',
        ),
      ),
    );
  });
}
