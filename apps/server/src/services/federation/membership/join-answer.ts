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
 */
import type { SqlExecutor } from '../../../storage/index.ts';
import { loadPduTexts } from '../../rooms/event-store.ts';

/** A `send_join` answer already encoded as JSON (the endpoint sends it as the body). */
export interface JoinAnswerText {
  readonly json: string;
}

/** Builds the answer for `event` (the accepted join PDU) given the state IDs before it. */
export async function joinAnswerText(
  tx: SqlExecutor,
  origin: string,
  event: Readonly<Record<string, unknown>>,
  stateIds: readonly string[],
): Promise<JoinAnswerText> {
  const texts = await loadPduTexts(tx, stateIds);
  const chain = await authChainTexts(tx, texts, authEventsOf(event));
  const state = stateIds.flatMap((id) => texts.get(id) ?? []);
  const json =
    `{"origin":${JSON.stringify(origin)},"event":${JSON.stringify(event)},` +
    `"state":[${state.join(',')}],"auth_chain":[${chain.join(',')}],"members_omitted":false}`;
  return { json };
}

/**
 * The auth chain (spec rooms/fragments/v2-state-res.md "Auth chain": every event reachable
 * through `auth_events`) of the events in `known` and of `joinAuth`, as PDU texts; the join's
 * own auth events are in it too (they are the chain's roots). `known` is filled with every
 * text read, so each event is loaded once: most of a big room's auth events are in its state.
 * Events the store lacks end their branch; the visited set ends any cycle.
 */
async function authChainTexts(
  tx: SqlExecutor,
  known: Map<string, string>,
  joinAuth: readonly string[],
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
  let layer = [...joinAuth];
  for (const [id, text] of known) layer.push(...authOfId(id, text));
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
      chain.push(text);
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
  return authEventsOf(JSON.parse(text));
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
  const parsed: unknown = JSON.parse(text.slice(open, i + 1));
  return Array.isArray(parsed) && parsed.every((id) => typeof id === 'string')
    ? (parsed as string[])
    : undefined;
}

/** A PDU's `auth_events` (only string IDs: stored PDUs passed the format checks). */
function authEventsOf(pdu: unknown): string[] {
  const auth = (pdu as { auth_events?: unknown } | null)?.auth_events;
  return Array.isArray(auth) ? auth.filter((id): id is string => typeof id === 'string') : [];
}
