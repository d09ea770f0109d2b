/**
 * Push rule conditions (client-server-api "Push Rules" > "Conditions",
 * https://spec.matrix.org/v1.19/client-server-api/#conditions-1): each kind answers whether one
 * event matches, given what the evaluator knows about the room and the user. An unknown kind
 * never matches ("Unrecognised conditions MUST NOT match any events").
 */

/**
 * What a condition may ask about beyond the event itself. The display name and the member count
 * are read once per event before its recipients are evaluated (the room's joined members and
 * their names are kept in memory per state), so the usual evaluation makes no promise; only
 * the sender's power to notify (an `@room` body) is read on demand.
 */
export interface ConditionContext {
  /** The user's display name in the room, if any (`contains_display_name`). */
  readonly displayName: string | undefined;
  /** Joined members of the room (`room_member_count`). */
  readonly memberCount: number;
  /** Whether the sender may trigger notifications of a `notifications` key (`sender_notification_permission`). */
  readonly senderMayNotify: (key: string) => boolean | Promise<boolean>;
}

/**
 * Splits a dotted key into its path, honouring the spec's escapes (v1.7, "`.` and `\` in a key
 * are escaped with `\`"): `content.m\.relates_to` → `content`, `m.relates_to`.
 */
export function keyPath(key: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < key.length; i++) {
    const char = key[i];
    if (char === '\\' && (key[i + 1] === '.' || key[i + 1] === '\\')) {
      current += key[i + 1];
      i++;
    } else if (char === '.') {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * Parsed keys: every event is matched against the same few keys for every recipient. Bounded:
 * when full it starts over (keys are cheap to parse again).
 */
const paths = new Map<string, readonly string[]>();
const MAX_PATHS = 10_000;

function cachedKeyPath(key: string): readonly string[] {
  let path = paths.get(key);
  if (path === undefined) {
    if (paths.size >= MAX_PATHS) paths.clear();
    path = keyPath(key);
    paths.set(key, path);
  }
  return path;
}

/** The value at a dotted key of the event, or `undefined` when any step is absent. */
export function valueAt(event: Readonly<Record<string, unknown>>, key: string): unknown {
  let value: unknown = event;
  for (const part of cachedKeyPath(key)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    if (!Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Whether a code point is a spec word character ("[A-Z], [a-z], [0-9] or _"), on the original text. */
function isWordChar(cp: number): boolean {
  return (
    (cp >= 0x61 && cp <= 0x7a) ||
    (cp >= 0x41 && cp <= 0x5a) ||
    (cp >= 0x30 && cp <= 0x39) ||
    cp === 0x5f
  );
}

/** Case folds of non-ASCII code points, computed once each. */
const folds = new Map<number, number>();
const MAX_FOLDS = 10_000;

/**
 * One code point case-folded for comparison: lower case, and the lower case of its upper case
 * when that is one code point too (`ſ` → `s`, `K` → `k`, `ẞ` → `ß`), as `event_match`'s
 * case-insensitivity asks. A code point whose fold is several code points stays as it is.
 */
function fold(cp: number): number {
  if (cp < 0x80) return cp >= 0x41 && cp <= 0x5a ? cp + 0x20 : cp;
  let folded = folds.get(cp);
  if (folded === undefined) {
    folded = cp;
    const lower = String.fromCodePoint(cp).toLowerCase();
    const lowerCp = lower.codePointAt(0) as number;
    if (lower.length === String.fromCodePoint(lowerCp).length) {
      folded = lowerCp;
      const again = String.fromCodePoint(lowerCp).toUpperCase().toLowerCase();
      const againCp = again.codePointAt(0) as number;
      if (again.length === String.fromCodePoint(againCp).length) folded = againCp;
    }
    if (folds.size < MAX_FOLDS) folds.set(cp, folded);
  }
  return folded;
}

/** `?` in a compiled pattern: any one code point. */
const ANY = -1;

/** A glob split on `*`: segments of folded code points (`ANY` for `?`); `starred` when any `*`. */
interface CompiledGlob {
  readonly segments: readonly Int32Array[];
  readonly starred: boolean;
}

function compileGlob(pattern: string, literal: boolean): CompiledGlob {
  const segments: Int32Array[] = [];
  let current: number[] = [];
  for (const char of pattern) {
    const cp = char.codePointAt(0) as number;
    if (!literal && cp === 0x2a) {
      segments.push(Int32Array.from(current));
      current = [];
    } else if (!literal && cp === 0x3f) {
      current.push(ANY);
    } else {
      current.push(fold(cp));
    }
  }
  segments.push(Int32Array.from(current));
  return { segments, starred: segments.length > 1 };
}

/** A value as matched: folded code points, and which of the original ones are word characters. */
interface FoldedText {
  readonly text: string;
  readonly folded: Int32Array;
  readonly word: Uint8Array;
}

/** The last value folded: one event's body is matched against each recipient's patterns. */
let lastText: FoldedText = { text: '', folded: new Int32Array(0), word: new Uint8Array(0) };

function foldText(text: string): FoldedText {
  if (lastText.text === text) return lastText;
  const folded = new Int32Array(text.length);
  const word = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i) as number;
    if (cp > 0xffff) i++;
    folded[n] = fold(cp);
    word[n] = isWordChar(cp) ? 1 : 0;
    n++;
  }
  lastText = { text, folded: folded.subarray(0, n), word: word.subarray(0, n) };
  return lastText;
}

/** Whether `segment` matches `value` at `at` (in bounds). */
function segmentAt(segment: Int32Array, value: Int32Array, at: number): boolean {
  if (at + segment.length > value.length) return false;
  for (let i = 0; i < segment.length; i++) {
    const p = segment[i] as number;
    if (p !== ANY && p !== value[at + i]) return false;
  }
  return true;
}

/**
 * Matches a compiled glob in time bounded by the value's length times the pattern's (no
 * backtracking: a backtracking RegExp of `*a*a*a…!` took exponential time on a long body).
 * The segments between `*`s are found leftmost-first, which leaves the most room for the rest.
 * Whole-value matching anchors the first segment at the start and the last at the end. With
 * word boundaries, the match must start where the text starts or after a non-word character
 * and end where it ends or before one: the leftmost start at which the first segment matches
 * is the best (every later segment is then found at or before where a later start finds it),
 * so only that start is tried, and the last segment may end at any boundary past the middle.
 */
function matchCompiled(glob: CompiledGlob, text: FoldedText, wordBoundaries: boolean): boolean {
  const { segments } = glob;
  const value = text.folded;
  const word = text.word;
  const n = value.length;
  const first = segments[0] as Int32Array;
  const last = segments[segments.length - 1] as Int32Array;
  const startsWord = (at: number) => at === 0 || word[at - 1] === 0;
  const endsWord = (at: number) => at === n || word[at] === 0;
  if (!glob.starred) {
    if (!wordBoundaries) return first.length === n && segmentAt(first, value, 0);
    for (let at = 0; at + first.length <= n; at++) {
      if (startsWord(at) && endsWord(at + first.length) && segmentAt(first, value, at)) {
        return true;
      }
    }
    return false;
  }
  let start = -1;
  if (!wordBoundaries) {
    if (segmentAt(first, value, 0)) start = 0;
  } else {
    for (let at = 0; at + first.length <= n; at++) {
      if (startsWord(at) && segmentAt(first, value, at)) {
        start = at;
        break;
      }
    }
  }
  if (start < 0) return false;
  let position = start + first.length;
  for (let s = 1; s < segments.length - 1; s++) {
    const segment = segments[s] as Int32Array;
    let at = position;
    while (at + segment.length <= n && !segmentAt(segment, value, at)) at++;
    if (at + segment.length > n) return false;
    position = at + segment.length;
  }
  if (!wordBoundaries)
    return n - last.length >= position && segmentAt(last, value, n - last.length);
  for (let at = position; at + last.length <= n; at++) {
    if (endsWord(at + last.length) && segmentAt(last, value, at)) return true;
  }
  return false;
}

/**
 * Spec `event_match` glob matching, case-insensitive (`*`: any run of code points, `?`: one):
 * the whole value must match, except for `content.body` (and content rules' patterns), where
 * the pattern must match a run of the body bounded by word boundaries (word characters are
 * judged on the original text, not its case fold).
 */
export function globMatches(pattern: string, value: string, wordBoundaries: boolean): boolean {
  let glob = globs.get(pattern);
  if (glob === undefined) {
    glob = compileGlob(pattern, false);
    remember(globs, pattern, glob);
  }
  return matchCompiled(glob, foldText(value), wordBoundaries);
}

/**
 * Compiled patterns: every event is matched against the same few dozen rule patterns per
 * recipient, and a key string plus a compile closure per match showed among the sync load's
 * largest allocations. Bounded: a full map starts over (patterns are cheap to compile again).
 */
const globs = new Map<string, CompiledGlob>();
const literals = new Map<string, CompiledGlob>();
const MAX_PATTERNS = 10_000;

function remember(cache: Map<string, CompiledGlob>, key: string, glob: CompiledGlob): void {
  if (cache.size >= MAX_PATTERNS) cache.clear();
  cache.set(key, glob);
}

/** A literal string found in `text` as a whole word, case-insensitively (`contains_display_name`). */
function containsWord(text: string, word: string): boolean {
  let glob = literals.get(word);
  if (glob === undefined) {
    glob = compileGlob(word, true);
    remember(literals, word, glob);
  }
  return matchCompiled(glob, foldText(text), true);
}

/** `room_member_count`'s `is`: an integer with an optional `==`, `<`, `>`, `>=` or `<=` prefix. */
export function memberCountMatches(is: string, count: number): boolean {
  const parsed = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (parsed === null) return false;
  const bound = Number(parsed[2]);
  switch (parsed[1]) {
    case '<':
      return count < bound;
    case '>':
      return count > bound;
    case '<=':
      return count <= bound;
    case '>=':
      return count >= bound;
    default:
      return count === bound;
  }
}

/** Whether `value` is one of the scalar types `event_property_is`/`_contains` compare. */
function isScalar(value: unknown): value is string | number | boolean | null {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isInteger(value))
  );
}

/**
 * Whether a condition's answer depends on the recipient beyond the condition itself. Every
 * other kind reads only the event and room facts that are the same for all of the event's
 * recipients (a condition naming a user, such as `.m.rule.invite_for_me`'s `state_key`, is
 * that user's own object), so its answer can be shared between them.
 */
export function dependsOnRecipient(condition: Readonly<Record<string, unknown>>): boolean {
  return condition['kind'] === 'contains_display_name';
}

/**
 * Whether one condition holds for `event`; synchronous unless the context answers the sender's
 * power to notify with a promise (a promise per condition and rule was most of the evaluation's
 * cost).
 */
export function conditionMatches(
  condition: Readonly<Record<string, unknown>>,
  event: Readonly<Record<string, unknown>>,
  context: ConditionContext,
): boolean | Promise<boolean> {
  const key = condition['key'];
  switch (condition['kind']) {
    case 'event_match': {
      const pattern = condition['pattern'];
      if (typeof key !== 'string' || typeof pattern !== 'string') return false;
      const value = valueAt(event, key);
      return typeof value === 'string' && globMatches(pattern, value, key === 'content.body');
    }
    case 'event_property_is': {
      if (typeof key !== 'string' || !isScalar(condition['value'])) return false;
      return valueAt(event, key) === condition['value'];
    }
    case 'event_property_contains': {
      if (typeof key !== 'string' || !isScalar(condition['value'])) return false;
      const value = valueAt(event, key);
      return Array.isArray(value) && value.includes(condition['value']);
    }
    case 'contains_display_name': {
      const body = valueAt(event, 'content.body');
      const name = context.displayName;
      return (
        typeof body === 'string' && name !== undefined && name !== '' && containsWord(body, name)
      );
    }
    case 'room_member_count': {
      const is = condition['is'];
      return typeof is === 'string' && memberCountMatches(is, context.memberCount);
    }
    case 'sender_notification_permission':
      return typeof key === 'string' && context.senderMayNotify(key);
    default:
      return false;
  }
}
