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

/** Characters a spec "word boundary" is not made of ("[A-Z], [a-z], [0-9] or _"). */
const WORD = 'A-Za-z0-9_';

function globToRegExpSource(glob: string): string {
  let source = '';
  for (const char of glob) {
    if (char === '*') source += '[\\s\\S]*';
    else if (char === '?') source += '[\\s\\S]';
    else source += char.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return source;
}

/**
 * Spec `event_match` glob matching, case-insensitive: the whole value must match, except for
 * `content.body` (and content rules' patterns), where the pattern must match a run of the body
 * bounded by word boundaries.
 */
export function globMatches(pattern: string, value: string, wordBoundaries: boolean): boolean {
  const cache = wordBoundaries ? wordGlobs : wholeGlobs;
  let regex = cache.get(pattern);
  if (regex === undefined) {
    const source = globToRegExpSource(pattern);
    regex = wordBoundaries
      ? new RegExp(`(?:^|[^${WORD}])${source}(?:[^${WORD}]|$)`, 'iu')
      : new RegExp(`^${source}$`, 'iu');
    remember(cache, pattern, regex);
  }
  return regex.test(value);
}

/**
 * Compiled patterns, one map per kind so a lookup builds no key: every event is matched against
 * the same few dozen rule patterns per recipient, and a key string plus a compile closure per
 * match showed among the sync load's largest allocations. Bounded: a full map starts over
 * (patterns are cheap to compile again).
 */
const wordGlobs = new Map<string, RegExp>();
const wholeGlobs = new Map<string, RegExp>();
const wordLiterals = new Map<string, RegExp>();
const MAX_PATTERNS = 10_000;

function remember(cache: Map<string, RegExp>, key: string, regex: RegExp): void {
  if (cache.size >= MAX_PATTERNS) cache.clear();
  cache.set(key, regex);
}

/** A literal string found in `text` as a whole word, case-insensitively (`contains_display_name`). */
function containsWord(text: string, word: string): boolean {
  let regex = wordLiterals.get(word);
  if (regex === undefined) {
    const escaped = word.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
    regex = new RegExp(`(?:^|[^${WORD}])${escaped}(?:[^${WORD}]|$)`, 'iu');
    remember(wordLiterals, word, regex);
  }
  return regex.test(text);
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
