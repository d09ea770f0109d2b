/**
 * The resident server's `send_join` v2 answer as JSON text (spec server-server-api
 * https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2send_joinroomideventid):
 * `origin`, the signed join `event`, `state` (the room state before the join), `auth_chain` (the
 * auth chain of that state and of the join) and `members_omitted: false` (full state always).
 *
 * Each PDU is served as its stored JSON text — the PDU exactly as signed or received — spliced
 * into the body, not parsed into an object and serialized again: for a 10,000-state room that
 * re-parse (three reads of every event) plus the `JSON.stringify` of the whole body was most
 * of A's answer time. Only `auth_events` is read out of each text, to walk the auth chain.
 * The body is streamed as the texts are read (joinAnswerBody).
 */
import { parseAnyJson } from '@weft/canonical-json';
import type { SqlExecutor } from '../../../storage/index.ts';
import { loadPduTexts } from '../../rooms/event-store.ts';

/**
 * What the accepting transaction fixes of a `send_join` answer: the accepted join PDU and the
 * IDs of the state before it. The body is read from it after the commit (joinAnswerBody).
 */
export interface JoinAnswerPlan {
  readonly origin: string;
  readonly event: Readonly<Record<string, unknown>>;
  readonly stateIds: readonly string[];
  /**
   * Texts served instead of the stored ones, by event ID: an erased user's state events the
   * joining server gets redacted (federation/visibility.ts `erasedStateTexts`).
   */
  readonly replaced?: ReadonlyMap<string, string>;
}

/** A `send_join` answer as a body stream (the endpoint sends it as it is read). */
export interface JoinAnswerBody {
  readonly body: ReadableStream<Uint8Array>;
}

/** State events read (and sent on) at a time. */
const STATE_BATCH = 1_000;

/**
 * The answer of `plan` as JSON bytes, written as the stored texts are read: the state
 * {@link STATE_BATCH} events at a time, then the auth chain (walked on the `auth_events` of
 * the state texts read). The joining server checks the first PDUs while the rest is read here
 * and on the wire (for a 30,000-state room the reads alone were ≈ 0.5 s before the first byte).
 * `db` reads outside the accepting transaction, once it committed: event texts do not change,
 * and the state IDs were fixed inside it. A failed read ends the body early (the joining
 * server sees a broken answer and tries another server).
 */
export function joinAnswerBody(db: SqlExecutor, plan: JoinAnswerPlan): ReadableStream<Uint8Array> {
  const pieces = answerPieces(db, plan);
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      // A write to a socket with room completes at once and asks for the next piece before the
      // event loop turns: without this, a big answer ran piece after piece (1,000 texts each)
      // for 0.1–0.3 s at a time, and nothing else on this server got a turn — in the join
      // benchmark not even the joining server's reads of it (its headers came 110–126 ms after
      // the answer was ready; 4–5 ms with the turn).
      if (started) await new Promise<void>((resolve) => setImmediate(resolve));
      started = true;
      const next = await pieces.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await pieces.return(undefined);
    },
  });
}

async function* answerPieces(db: SqlExecutor, plan: JoinAnswerPlan): AsyncGenerator<Uint8Array> {
  const { origin, event, stateIds } = plan;
  const served = (id: string, text: string) => plan.replaced?.get(id) ?? text;
  yield utf8Of([`{"origin":${JSON.stringify(origin)},"event":${JSON.stringify(event)},"state":[`]);
  const known = new Map<string, string>();
  // The auth events the state cites, read out batch by batch: done at the end, reading 30,000
  // texts held this thread ≈ 0.1 s in one piece, with the joining server waiting on the body.
  const cited = new Set<string>(authEventsOf(event));
  let first = true;
  for (let at = 0; at < stateIds.length; at += STATE_BATCH) {
    const batch = stateIds.slice(at, at + STATE_BATCH);
    const texts = await loadPduTexts(db, batch);
    const out: string[] = [];
    for (const id of batch) {
      const text = texts.get(id);
      if (text === undefined) continue;
      known.set(id, text);
      out.push(served(id, text));
      for (const authId of authEventsOfText(text)) cited.add(authId);
    }
    if (out.length === 0) continue;
    yield utf8Of(out, first ? '' : ',');
    first = false;
  }
  const chain = await authChainTexts(db, known, cited, served);
  yield utf8Of(chain, '],"auth_chain":[', '],"members_omitted":false}');
}

/**
 * `head`, `texts` separated by commas and `tail` as UTF-8 bytes, written text by text into one
 * buffer: joining a piece's 1,000 PDU texts into one string and encoding that took 6.1–6.4 µs a
 * text, writing them one by one 1.3–1.4 µs (2026-11-29, session 5).
 */
function utf8Of(texts: readonly string[], head = '', tail = ''): Uint8Array {
  let length = Buffer.byteLength(head) + Buffer.byteLength(tail) + Math.max(0, texts.length - 1);
  for (const text of texts) length += Buffer.byteLength(text);
  // Its own memory (not a slice of Buffer's shared pool): the body's consumer owns the chunk.
  const out = Buffer.allocUnsafeSlow(length);
  let at = out.write(head, 0);
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) out[at++] = COMMA;
    at += out.write(texts[i] as string, at);
  }
  at += out.write(tail, at);
  // Every byte is written (the lengths are UTF-8 lengths of the very strings written).
  return new Uint8Array(out.buffer, out.byteOffset, at);
}

const COMMA = 0x2c;

/**
 * The auth chain (spec rooms/fragments/v2-state-res.md "Auth chain": every event reachable
 * through `auth_events`) from `roots` — the auth events the state and the join cite — as PDU
 * texts; the roots are in it too. `known` holds the texts read so far (the state's) and is
 * filled with every text read, so each event is loaded once: most of a big room's auth events
 * are in its state. Events the store lacks end their branch; the visited set ends any cycle.
 */
async function authChainTexts(
  tx: SqlExecutor,
  known: Map<string, string>,
  roots: Iterable<string>,
  served: (id: string, text: string) => string,
): Promise<string[]> {
  const inChain = new Set<string>();
  const chain: string[] = [];
  // Each text is parsed once, for its auth events, however many events cite it.
  const authOf = new Map<string, string[]>();
  const authOfId = (id: string, text: string): string[] => {
    let auth = authOf.get(id);
    if (auth === undefined) {
      auth = authEventsOfText(text);
      authOf.set(id, auth);
    }
    return auth;
  };
  let layer = [...roots];
  while (layer.length > 0) {
    const fresh = [...new Set(layer)].filter((id) => !inChain.has(id));
    const missing = fresh.filter((id) => !known.has(id));
    if (missing.length > 0) {
      for (const [id, text] of await loadPduTexts(tx, missing)) known.set(id, text);
    }
    layer = [];
    for (const id of fresh) {
      const text = known.get(id);
      if (text === undefined) continue;
      inChain.add(id);
      chain.push(served(id, text));
      layer.push(...authOfId(id, text));
    }
  }
  return chain;
}

const AUTH_EVENTS_KEY = '"auth_events":[';
const BACKSLASH = 0x5c;

/**
 * The `auth_events` of a stored PDU text, without parsing the whole event when the text allows:
 * parsing 30,000 texts only for this was ≈ a quarter of A's answer time for a 30,000-state
 * room. The key found must be the top-level one: in JSON text a string never holds an
 * unescaped `"`, so the needle only matches a key; stored texts are `JSON.stringify` output
 * (no whitespace, so the top-level key reads exactly so), and when the needle occurs once it is
 * the top-level key every stored PDU has (they passed the format checks). The array must then be one of
 * plain strings (JSON-parsed from its slice). Anything else — the key also in `content`,
 * room versions 1–2's `[id, hashes]` pairs — takes the full parse.
 */
export function authEventsOfText(text: string): string[] {
  const at = text.indexOf(AUTH_EVENTS_KEY);
  if (at >= 0 && text.lastIndexOf(AUTH_EVENTS_KEY) === at) {
    const ids = stringArrayAt(text, at + AUTH_EVENTS_KEY.length - 1);
    if (ids !== undefined) return ids;
  }
  return authEventsOf(parseAnyJson(text));
}

/** The array of plain strings starting at `text[open] === '['`, or undefined. */
function stringArrayAt(text: string, open: number): string[] | undefined {
  let i = open + 1;
  if (text[i] !== ']') {
    for (;;) {
      if (text[i] !== '"') return undefined;
      // The closing quote: the next `"` not escaped (event IDs hold no backslash; any other
      // text takes the full parse).
      const close = text.indexOf('"', i + 1);
      if (close < 0) return undefined;
      for (let k = i + 1; k < close; k++) if (text.charCodeAt(k) === BACKSLASH) return undefined;
      i = close + 1;
      if (text[i] === ']') break;
      if (text[i] !== ',') return undefined;
      i++;
    }
  }
  const parsed: unknown = parseAnyJson(text.slice(open, i + 1));
  return Array.isArray(parsed) && parsed.every((id) => typeof id === 'string')
    ? (parsed as string[])
    : undefined;
}

/** A PDU's `auth_events` (only string IDs: stored PDUs passed the format checks). */
function authEventsOf(pdu: unknown): string[] {
  const auth = (pdu as { auth_events?: unknown } | null)?.auth_events;
  return Array.isArray(auth) ? auth.filter((id): id is string => typeof id === 'string') : [];
}
