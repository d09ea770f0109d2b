/**
 * The spec's client-server OpenAPI documents (`<shared>/matrix-spec/data/api/client-server`,
 * located through `sharedDir` from @weft/test-vectors) as a response validator keyed by the
 * REQUEST: give it the method and the concrete path a test called (`/_matrix/client/r0/rooms/
 * !a:b/send/m.room.message/t1`) and it finds the operation (`PUT /rooms/{roomId}/send/
 * {eventType}/{txnId}` in room_send.yaml), dereferences its document, compiles the response
 * schema for the status with Ajv 2020 (OpenAPI 3.1's dialect) and validates the body.
 *
 * Set-up follows `<shared>/matrix-spec/README.md` "How a test can use them": the `yaml` package
 * as ref-parser's YAML reader, Ajv strict except the three sub-options the spec's schemas need,
 * the `x-*` keywords registered, and the custom formats of `data/string-formats.yaml` checked
 * for real (the sigil grammar of appendices "Identifier Grammar", base64 alphabets).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import $RefParser from '@apidevtools/json-schema-ref-parser';
import { sharedDir } from '@weft/test-vectors';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

import type { JsonResponse, TestClient } from './harness.ts';

/** Where the client-server API documents live. */
export const CLIENT_SERVER_API_DIR = join(sharedDir, 'matrix-spec/data/api/client-server');

/** One operation of the spec: `method` + full path template, and the document that holds it. */
export interface SpecOperation {
  readonly method: string;
  /** Full template, e.g. `/_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}`. */
  readonly template: string;
  /** The API file, e.g. `room_send.yaml`. */
  readonly file: string;
  /** The path key inside that file, e.g. `/rooms/{roomId}/send/{eventType}/{txnId}`. */
  readonly pathKey: string;
  /** Statuses the operation documents a response for. */
  readonly statuses: readonly string[];
  readonly matcher: RegExp;
  /** Literal characters in the template (more = more specific when two templates match). */
  readonly literalLength: number;
}

/** What a validation found; `errors` is empty when the body matches. */
export interface SchemaCheck {
  readonly operation: SpecOperation;
  readonly errors: readonly string[];
}

/** Appendices "Identifier Grammar" and "Unpadded Base64", as format checks. */
const MX_FORMATS: Record<string, RegExp> = {
  'mx-user-id': /^@[^:\s]+:[A-Za-z0-9.\-[\]:]+$/,
  'mx-room-id': /^![^:\s]+(:[A-Za-z0-9.\-[\]:]+)?$/,
  'mx-event-id': /^\$[^\s]+$/,
  'mx-room-alias': /^#[^:\s]+:[A-Za-z0-9.\-[\]:]+$/,
  'mx-server-name': /^[A-Za-z0-9.\-[\]:]+$/,
  'mx-mxc-uri': /^mxc:\/\/[A-Za-z0-9.\-[\]:]+\/[A-Za-z0-9_-]+$/,
  'mx-unpadded-base64': /^[A-Za-z0-9+/]*$/,
  'mx-urlsafe-unpadded-base64': /^[A-Za-z0-9_-]*$/,
};

const yamlReader = {
  order: 1,
  canParse: /\.ya?ml$/i,
  parse: (file: { data: Uint8Array | string }) =>
    parseYaml(typeof file.data === 'string' ? file.data : new TextDecoder().decode(file.data)),
};

function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    strictTypes: false,
    strictRequired: false,
    allowUnionTypes: true,
    allErrors: true,
  });
  // ajv-formats is CommonJS: its default export can arrive as the module object.
  const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
    addFormatsModule) as (instance: Ajv2020) => void;
  addFormats(ajv);
  for (const keyword of [
    'example',
    'x-addedInMatrixVersion',
    'x-changedInMatrixVersion',
    'x-pattern-format',
    'x-weight',
  ]) {
    ajv.addKeyword(keyword);
  }
  for (const [name, pattern] of Object.entries(MX_FORMATS)) ajv.addFormat(name, pattern);
  ajv.addFormat('int64', { type: 'number', validate: Number.isSafeInteger });
  ajv.addFormat('float', { type: 'number', validate: Number.isFinite });
  return ajv;
}

type Json = Record<string, unknown>;

function templateMatcher(template: string): RegExp {
  const source = template
    .split(/(\{[^}]+\})/)
    .map((part) =>
      // A parameter may be empty: `/state/{eventType}/{stateKey}` with the empty state key.
      part.startsWith('{') ? '[^/]*' : part.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`),
    )
    .join('');
  return new RegExp(`^${source}$`);
}

/** Every client-server operation of the spec, indexed by method and path template. */
export class ClientServerSpec {
  readonly operations: readonly SpecOperation[];
  readonly #dir: string;
  readonly #ajv = createAjv();
  readonly #documents = new Map<string, Promise<Json>>();
  readonly #validators = new Map<string, ValidateFunction>();

  constructor(dir = CLIENT_SERVER_API_DIR) {
    this.#dir = dir;
    const operations: SpecOperation[] = [];
    for (const file of readdirSync(dir)
      .filter((name) => name.endsWith('.yaml'))
      .sort()) {
      const api = parseYaml(readFileSync(join(dir, file), 'utf8')) as Json;
      const servers = api['servers'] as
        | { variables?: { basePath?: { default?: string } } }[]
        | undefined;
      const basePath = servers?.[0]?.variables?.basePath?.default ?? '';
      for (const [rawKey, item] of Object.entries((api['paths'] ?? {}) as Record<string, Json>)) {
        // Some spec files carry stray whitespace in path keys ("/rooms/{roomId}/invite ").
        const pathKey = rawKey.trim();
        const template = basePath + pathKey;
        for (const [method, operation] of Object.entries(item)) {
          if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
          const responses = ((operation as Json)['responses'] ?? {}) as Json;
          operations.push({
            method: method.toUpperCase(),
            template,
            file,
            pathKey: rawKey,
            statuses: Object.keys(responses),
            matcher: templateMatcher(template),
            literalLength: template.replace(/\{[^}]+\}/g, '').length,
          });
        }
      }
    }
    this.operations = operations;
  }

  /**
   * The operation a request hits. `path` is the concrete request path (query string allowed);
   * the legacy `r0` prefix is looked up as `v3`, as the spec defines r0 endpoints as the same.
   */
  find(method: string, path: string): SpecOperation | undefined {
    const bare = (path.split('?')[0] ?? '').replace('/_matrix/client/r0/', '/_matrix/client/v3/');
    let best: SpecOperation | undefined;
    for (const operation of this.operations) {
      if (operation.method !== method.toUpperCase() || !operation.matcher.test(bare)) continue;
      if (best === undefined || operation.literalLength > best.literalLength) best = operation;
    }
    return best;
  }

  /** Validates `body` as the response `status` of `method path`; see {@link SchemaCheck}. */
  async check(method: string, path: string, status: number, body: unknown): Promise<SchemaCheck> {
    const operation = this.find(method, path);
    if (operation === undefined) throw new Error(`no spec operation for ${method} ${path}`);
    let validate = await this.#validator(operation, status);
    if (validate === undefined && status >= 400 && status < 500) {
      // The spec lists the usual errors per operation, not every one (CS API "Standard error
      // response": any endpoint can answer e.g. M_NOT_FOUND); the body must still be an Error.
      validate = await this.#errorValidator();
    }
    if (validate === undefined) {
      return {
        operation,
        errors: [`status ${status} is not documented (documented: ${operation.statuses})`],
      };
    }
    if (validate(body)) return { operation, errors: [] };
    return {
      operation,
      errors: (validate.errors ?? []).map(
        (e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
      ),
    };
  }

  /** Like {@link check}, but throws with Ajv's messages and the body when it does not match. */
  async expectValid(method: string, path: string, status: number, body: unknown): Promise<void> {
    const { operation, errors } = await this.check(method, path, status, body);
    if (errors.length > 0) {
      throw new Error(
        `${method} ${operation.template} ${status} (${operation.file}) does not match the spec:\n  ${errors.join('\n  ')}\nbody: ${JSON.stringify(body).slice(0, 1500)}`,
      );
    }
  }

  /**
   * `method path` through `client` (as `token` and with `body` when given): throws unless the
   * answer has `status` (200) and its body matches the spec ({@link expectValid}); returns it.
   */
  async expectRequest(
    client: TestClient,
    method: string,
    path: string,
    options: { body?: unknown; token?: string; status?: number } = {},
  ): Promise<JsonResponse> {
    const response = await client.request(method, path, {
      ...(options.body !== undefined ? { body: options.body } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
    });
    const status = options.status ?? 200;
    if (response.status !== status) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    await this.expectValid(method, path, status, response.body);
    return response;
  }

  async #validator(operation: SpecOperation, status: number) {
    const key = `${operation.file} ${operation.method} ${operation.pathKey} ${status}`;
    const cached = this.#validators.get(key);
    if (cached !== undefined) return cached;
    const api = await this.#document(operation.file);
    const paths = api['paths'] as Record<string, Record<string, Json>>;
    const responses = (paths[operation.pathKey]?.[operation.method.toLowerCase()]?.['responses'] ??
      {}) as Record<string, { content?: Record<string, { schema?: object }> }>;
    const response = responses[String(status)];
    if (response === undefined) return undefined;
    // A documented status without a JSON body (e.g. a redirect) accepts any body.
    const schema = response.content?.['application/json']?.schema ?? {};
    const validate = this.#ajv.compile(schema);
    this.#validators.set(key, validate);
    return validate;
  }

  async #errorValidator(): Promise<ValidateFunction> {
    const key = 'definitions/errors/error.yaml';
    const cached = this.#validators.get(key);
    if (cached !== undefined) return cached;
    const schema = (await $RefParser.dereference(join(this.#dir, key), {
      parse: { yaml: yamlReader },
    })) as object;
    const validate = this.#ajv.compile(schema);
    this.#validators.set(key, validate);
    return validate;
  }

  #document(file: string): Promise<Json> {
    let document = this.#documents.get(file);
    if (document === undefined) {
      document = $RefParser.dereference(join(this.#dir, file), {
        parse: { yaml: yamlReader },
      }) as Promise<Json>;
      this.#documents.set(file, document);
    }
    return document;
  }
}
