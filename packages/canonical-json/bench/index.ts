/**
 * `npm run bench -w packages/canonical-json`
 *
 * Encodes a corpus of a few thousand Matrix events with Weft and its peers: `another-json`
 * (what matrix-js-sdk signs with), `canonicalize` (RFC 8785) and `JSON.stringify` (the ceiling:
 * no sorting, no checks). One operation = the whole corpus. Outputs are compared first: on a
 * corpus with BMP keys and no control characters outside \n all three canonical encoders must
 * agree byte for byte. Also measures the strict parser against `JSON.parse`.
 */
import { createRequire } from 'node:module';

import {
  type Contender,
  type Measurement,
  measureInterleaved,
  pairedRatio,
  printComparison,
} from '@weft/bench';
import {
  DEFAULT_MAX_DEPTH,
  encodeCanonicalJson,
  encodeCanonicalJsonBytes,
  parseJson,
} from '@weft/canonical-json';

import { parseStrict } from '../src/parse.ts';
import { buildCorpus } from './corpus.ts';
import { walkOnly } from './walk.ts';

const require = createRequire(import.meta.url);
const anotherJson = require('another-json') as { stringify(value: unknown): string };
const canonicalize = require('canonicalize') as (value: unknown) => string | undefined;

const CORPUS_SIZE = 3000;
const corpus = buildCorpus(CORPUS_SIZE);
const texts = corpus.map((event) => JSON.stringify(event));
const bytes = texts.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
// CPU milliseconds per contender.
const millis = Number(process.env['BENCH_MILLIS'] ?? 2000);

let mismatchAnother = 0;
let mismatchCanonicalize = 0;
for (const event of corpus) {
  const ours = encodeCanonicalJson(event);
  if (ours !== anotherJson.stringify(event)) mismatchAnother += 1;
  if (ours !== canonicalize(event)) mismatchCanonicalize += 1;
}
console.log(
  `corpus: ${CORPUS_SIZE} events, ${(bytes / 1024 / 1024).toFixed(2)} MiB of JSON; ` +
    `mismatches vs another-json: ${mismatchAnother}, vs canonicalize: ${mismatchCanonicalize}`,
);

const encodeAll = (encode: (value: unknown) => unknown) => () => {
  let sink = 0;
  for (const event of corpus) sink += (encode(event) as string).length;
  return sink;
};

/**
 * Contenders alternate one corpus at a time until each has used `millis` of CPU time (see
 * @weft/bench's `measureInterleaved`): same corpus, same warm-up, same conditions for all.
 */
function report(title: string, contenders: Contender[]): void {
  const result = measureInterleaved(contenders, { millis, batch: 1 });
  const { mean, best } = result;
  const [subject, ...peers] = mean;
  printComparison(`${title}, CPU time, all batches`, subject as Measurement, peers);
  const [bestSubject, ...bestPeers] = best;
  printComparison(`${title}, CPU time, fastest batch`, bestSubject as Measurement, bestPeers);
  // Per round, the subject's batch against each peer's batch run right after it; the median of
  // those ratios over all rounds is the figure least moved by other processes' load.
  const paired = contenders
    .slice(1)
    .map((peer, index) => `${pairedRatio(result, 0, index + 1).toFixed(2)}× ${peer.name}`);
  console.log(
    `  median of paired rounds (${result.batches[0]?.length ?? 0}): ${paired.join(', ')}`,
  );
}

report(`encode ${CORPUS_SIZE} events (ops/s = corpora/s)`, [
  { name: 'weft encodeCanonicalJson', fn: encodeAll(encodeCanonicalJson) },
  { name: 'another-json', fn: encodeAll(anotherJson.stringify) },
  { name: 'canonicalize', fn: encodeAll(canonicalize) },
  { name: 'JSON.stringify', fn: encodeAll(JSON.stringify) },
  {
    name: 'walk only (no output)',
    fn: () => {
      let sink = 0;
      for (const event of corpus) sink += walkOnly(event);
      return sink;
    },
  },
]);

// What is signed and hashed is the UTF-8 form. The string encoders above return a rope that only
// gets flattened when used, while JSON.stringify returns a flat string; producing bytes charges
// every contender for its whole output.
const utf8 = new TextEncoder();
const bytesOf = (encode: (value: unknown) => string) => () => {
  let sink = 0;
  for (const event of corpus) sink += utf8.encode(encode(event)).length;
  return sink;
};
report(`encode ${CORPUS_SIZE} events to UTF-8 bytes (ops/s = corpora/s)`, [
  {
    name: 'weft encodeCanonicalJsonBytes',
    fn: () => {
      let sink = 0;
      for (const event of corpus) sink += encodeCanonicalJsonBytes(event).length;
      return sink;
    },
  },
  { name: 'another-json + TextEncoder', fn: bytesOf(anotherJson.stringify) },
  { name: 'JSON.stringify + TextEncoder', fn: bytesOf(JSON.stringify) },
]);

const parseAll = (parse: (text: string) => unknown) => () => {
  let sink = 0;
  for (const text of texts) sink += parse(text) === null ? 0 : 1;
  return sink;
};
const bodies = texts.map((text) => utf8.encode(text));
report(`parse ${CORPUS_SIZE} events (ops/s = corpora/s)`, [
  { name: 'weft parseJson', fn: parseAll(parseJson) },
  { name: 'JSON.parse', fn: parseAll(JSON.parse) },
  {
    // The strict parser alone, as parseJson ran before it handed common texts to JSON.parse.
    name: 'weft strict parser only',
    fn: parseAll((text) => parseStrict(text, false, DEFAULT_MAX_DEPTH, 'canonical')),
  },
  {
    name: 'weft parseJson, UTF-8 bytes',
    fn: () => {
      let sink = 0;
      for (const body of bodies) sink += parseJson(body) === null ? 0 : 1;
      return sink;
    },
  },
]);
