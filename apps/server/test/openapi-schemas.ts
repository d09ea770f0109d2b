/**
 * Validates responses against the spec's OpenAPI definitions (../shared/matrix-spec/data/api):
 * loads an API file, drops the `example(s)` trees (documentation, and some `$ref`s there point at
 * files outside the API tree), dereferences `$ref`s with json-schema-ref-parser and compiles the
 * response schema for a path, method and status with Ajv (JSON Schema 2020-12, as OpenAPI 3.1).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import $RefParser from '@apidevtools/json-schema-ref-parser';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

const SPEC_ROOT = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/matrix-spec/data/api/client-server',
);

/** Spec appendices "Identifier Grammar", loosely: the sigil and the rest. */
const MX_FORMATS: Record<string, RegExp> = {
  'mx-event-id': /^\$/,
  'mx-room-id': /^!/,
  'mx-user-id': /^@[^:]+:.+$/,
  'mx-room-alias': /^#[^:]+:.+$/,
  'mx-server-name': /^[A-Za-z0-9.\-[\]:]+$/,
  'mx-mxc-uri': /^mxc:\/\/[^/]+\/.+$/,
  'mx-unpadded-base64': /^[A-Za-z0-9+/]*$/,
  'mx-urlsafe-unpadded-base64': /^[A-Za-z0-9_-]*$/,
};

function withoutExamples(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutExamples);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'example' || key === 'examples') continue;
    out[key] = withoutExamples(value);
  }
  return out;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
// ajv-formats is CommonJS: its default export arrives as the module object.
const addFormats = ((formats as unknown as { default?: unknown }).default ?? formats) as (
  instance: Ajv2020,
) => void;
addFormats(ajv);
for (const [name, pattern] of Object.entries(MX_FORMATS)) ajv.addFormat(name, pattern);

const documents = new Map<string, Promise<Record<string, unknown>>>();
const validators = new Map<string, ValidateFunction>();

async function loadApi(file: string): Promise<Record<string, unknown>> {
  let document = documents.get(file);
  if (document === undefined) {
    const path = join(SPEC_ROOT, file);
    const parsed = withoutExamples(parseYaml(readFileSync(path, 'utf8')));
    document = $RefParser.dereference(path, parsed as object, {
      parse: {
        // The spec's YAML trips the bundled parser ("deficient indentation" in flow-style
        // examples); use `yaml`, and drop examples in referenced files too.
        yaml: {
          order: 1,
          canParse: /\.ya?ml$/i,
          parse: (file: { data: Uint8Array | string }) =>
            withoutExamples(
              parseYaml(
                typeof file.data === 'string' ? file.data : new TextDecoder().decode(file.data),
              ),
            ) as object,
        },
      },
    }) as Promise<Record<string, unknown>>;
    documents.set(file, document);
  }
  return document;
}

/**
 * Throws (with Ajv's messages) unless `body` matches the response schema the spec gives for
 * `method` `path` (as written in the spec, e.g. `/rooms/{roomId}/messages`) and `status` in
 * the API file `file` (e.g. `message_pagination.yaml`).
 */
export async function expectSpecResponse(
  file: string,
  path: string,
  method: string,
  status: number,
  body: unknown,
): Promise<void> {
  const key = `${file} ${method} ${path} ${status}`;
  let validate: ValidateFunction | undefined = validators.get(key);
  if (validate === undefined) {
    const api = await loadApi(file);
    const paths = (api['paths'] ?? {}) as Record<string, Record<string, unknown>>;
    // Some spec files carry stray whitespace in path keys ("/rooms/{roomId}/invite ").
    const pathKey = Object.keys(paths).find((candidate) => candidate.trim() === path);
    const operation = (pathKey === undefined ? undefined : paths[pathKey])?.[
      method.toLowerCase()
    ] as
      | { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }
      | undefined;
    const schema = operation?.responses?.[String(status)]?.content?.['application/json']?.schema;
    if (schema === undefined) throw new Error(`no response schema for ${key}`);
    const compiled = ajv.compile(schema);
    validators.set(key, compiled);
    validate = compiled;
  }
  if (!validate(body)) {
    throw new Error(
      `${key}: response does not match the spec schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`,
    );
  }
}
