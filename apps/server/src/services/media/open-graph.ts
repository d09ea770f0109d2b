/**
 * Open Graph (https://ogp.me/) of an HTML page for URL previews: the `og:*` `<meta property>`
 * tags, and the page's `<title>` and `<meta name="description">` as `og:title` and
 * `og:description` when it has none. Parsed with htmlparser2 (a tolerant tokenizer), never with
 * regular expressions. The charset is the `Content-Type` header's, else the page's
 * `<meta charset>` or `<meta http-equiv="Content-Type">`, else UTF-8.
 */
import { Parser } from 'htmlparser2';

/** The Open Graph properties kept (others are dropped: the answer stays small). */
const KEPT = new Set([
  'og:title',
  'og:description',
  'og:image',
  'og:image:width',
  'og:image:height',
  'og:image:type',
  'og:site_name',
  'og:url',
  'og:type',
]);

/** The longest value kept of one property (characters). */
const MAX_VALUE_CHARS = 1000;

/** What one pass over a page found. */
interface Found {
  readonly og: Record<string, string>;
  charset: string | undefined;
  title: string | undefined;
  description: string | undefined;
}

function scan(html: string): Found {
  const found: Found = { og: {}, charset: undefined, title: undefined, description: undefined };
  let inTitle = false;
  let title = '';
  const parser = new Parser(
    {
      onopentag(name, attributes) {
        if (name === 'title' && found.title === undefined) {
          inTitle = true;
          return;
        }
        if (name !== 'meta') return;
        const charset = attributes['charset'];
        if (charset !== undefined && found.charset === undefined) found.charset = charset.trim();
        const content = attributes['content'];
        if (content === undefined) return;
        if (attributes['http-equiv']?.toLowerCase() === 'content-type') {
          found.charset ??= charsetOf(content);
        }
        const property = (attributes['property'] ?? attributes['name'])?.toLowerCase();
        if (property === undefined) return;
        if (KEPT.has(property) && found.og[property] === undefined) {
          found.og[property] = content.trim().slice(0, MAX_VALUE_CHARS);
        } else if (property === 'description' && found.description === undefined) {
          found.description = content.trim().slice(0, MAX_VALUE_CHARS);
        }
      },
      ontext(text) {
        if (inTitle) title += text;
      },
      onclosetag(name) {
        if (name === 'title' && inTitle) {
          inTitle = false;
          found.title = title.replace(/\s+/g, ' ').trim().slice(0, MAX_VALUE_CHARS);
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  return found;
}

/** The `charset` parameter of a `Content-Type` value, if any. */
function charsetOf(contentType: string): string | undefined {
  for (const part of contentType.split(';').slice(1)) {
    const [key, value] = part.split('=');
    if (key?.trim().toLowerCase() === 'charset' && value !== undefined) {
      return value.trim().replace(/^"(.*)"$/, '$1');
    }
  }
  return undefined;
}

function decode(bytes: Uint8Array, charset: string | undefined): string | undefined {
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    return undefined; // an unknown label
  }
}

/**
 * The Open Graph properties of `bytes`, an HTML page served with `contentType`. Values are
 * strings; `og:image:width` and `og:image:height` are numbers when they are integers.
 */
export function parseOpenGraph(bytes: Uint8Array, contentType: string): Record<string, unknown> {
  const declared = charsetOf(contentType);
  let text = declared === undefined ? undefined : decode(bytes, declared);
  if (text === undefined) {
    // No (usable) header charset: the page's own <meta charset>, read from an ASCII-compatible
    // decoding, then the page decoded with it (UTF-8 without one).
    const meta = scan(new TextDecoder('latin1').decode(bytes)).charset;
    text = decode(bytes, meta) ?? new TextDecoder('utf-8').decode(bytes);
  }
  const found = scan(text);
  const og: Record<string, unknown> = { ...found.og };
  if (og['og:title'] === undefined && found.title) og['og:title'] = found.title;
  if (og['og:description'] === undefined && found.description) {
    og['og:description'] = found.description;
  }
  for (const key of ['og:image:width', 'og:image:height']) {
    const value = og[key];
    if (typeof value === 'string') {
      if (/^\d{1,9}$/.test(value)) og[key] = Number(value);
      else delete og[key];
    }
  }
  return og;
}
