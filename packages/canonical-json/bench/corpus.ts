/**
 * A deterministic corpus of Matrix PDUs shaped like real federation traffic: text messages
 * (ASCII, accented, CJK, emoji; some with HTML and relations), memberships, power levels with
 * many users, Megolm-encrypted events with long base64 ciphertext, reactions and room names.
 * Every event carries the PDU envelope (auth/prev events, hashes, signatures, unsigned).
 */

/** mulberry32: a tiny seeded PRNG, so every run benchmarks the same bytes. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const WORDS = [
  'hello',
  'the',
  'meeting',
  'is',
  'at',
  'noon',
  'see',
  'you',
  'there',
  'thanks',
  'a',
  'lot',
  'café',
  'naïve',
  'résumé',
  'Grüße',
  'straße',
  '日本語',
  'テスト',
  '你好',
  '세계',
  'привет',
  'مرحبا',
  'שלום',
  '🎉',
  '👍',
  '😀',
  '🚀',
  'ok',
  'lgtm',
  'deploy',
  'tomorrow',
  'bug',
  'fixed',
];
const SERVERS = ['matrix.org', 'example.com', 'chat.weft.dev', 'hs.example.org', 'mozilla.org'];

export function buildCorpus(size: number, seed = 0x5eed): Record<string, unknown>[] {
  const random = prng(seed);
  const int = (max: number) => Math.floor(random() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chars = (alphabet: string, length: number) => {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[int(alphabet.length)];
    return out;
  };
  const server = () => pick(SERVERS);
  const user = () => `@${chars('abcdefghijklmnopqrstuvwxyz0123456789', 3 + int(10))}:${server()}`;
  const eventId = () => `$${chars(BASE64URL, 43)}`;
  const sentence = (words: number) => Array.from({ length: words }, () => pick(WORDS)).join(' ');
  const roomId = `!${chars(BASE64URL, 18)}:${server()}`;

  const content = (type: string): Record<string, unknown> => {
    switch (type) {
      case 'm.room.message': {
        const body = sentence(1 + int(random() < 0.9 ? 25 : 300));
        const html =
          random() < 0.3
            ? {
                format: 'org.matrix.custom.html',
                formatted_body: `<p><strong>${body}</strong></p>\n<ul><li>${sentence(4)}</li></ul>`,
              }
            : {};
        const reply =
          random() < 0.2 ? { 'm.relates_to': { 'm.in_reply_to': { event_id: eventId() } } } : {};
        return { msgtype: 'm.text', body, ...html, ...reply };
      }
      case 'm.room.member':
        return {
          membership: pick(['join', 'join', 'join', 'leave', 'invite']),
          displayname: sentence(1 + int(3)),
          avatar_url: `mxc://${server()}/${chars(BASE64, 24).replace(/[+/]/g, 'x')}`,
        };
      case 'm.room.power_levels': {
        const users: Record<string, number> = {};
        for (let i = 0, n = 5 + int(150); i < n; i++) users[user()] = pick([0, 50, 100]);
        return {
          users,
          users_default: 0,
          events: {
            'm.room.name': 50,
            'm.room.power_levels': 100,
            'm.room.history_visibility': 100,
            'm.room.canonical_alias': 50,
            'm.room.avatar': 50,
            'm.room.tombstone': 100,
            'm.room.server_acl': 100,
            'm.room.encryption': 100,
          },
          events_default: 0,
          state_default: 50,
          ban: 50,
          kick: 50,
          redact: 50,
          invite: 0,
          notifications: { room: 50 },
        };
      }
      case 'm.room.encrypted':
        return {
          algorithm: 'm.megolm.v1.aes-sha2',
          ciphertext: chars(BASE64, 200 + int(random() < 0.9 ? 800 : 4000)),
          device_id: chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 10),
          sender_key: chars(BASE64, 43),
          session_id: chars(BASE64, 43),
        };
      case 'm.reaction':
        return {
          'm.relates_to': { rel_type: 'm.annotation', event_id: eventId(), key: pick(WORDS) },
        };
      default:
        return { name: sentence(1 + int(5)) };
    }
  };

  const types = [
    'm.room.message',
    'm.room.message',
    'm.room.message',
    'm.room.encrypted',
    'm.room.encrypted',
    'm.room.encrypted',
    'm.room.member',
    'm.room.member',
    'm.reaction',
    'm.room.power_levels',
    'm.room.name',
  ];
  const corpus: Record<string, unknown>[] = [];
  for (let i = 0; i < size; i++) {
    const type = pick(types);
    const origin = server();
    const sender = user();
    const stateKey =
      type === 'm.room.member'
        ? { state_key: sender }
        : type === 'm.room.power_levels' || type === 'm.room.name'
          ? { state_key: '' }
          : {};
    corpus.push({
      type,
      ...stateKey,
      room_id: roomId,
      sender,
      content: content(type),
      origin_server_ts: 1_700_000_000_000 + int(10_000_000_000),
      depth: 1 + int(100_000),
      auth_events: Array.from({ length: 2 + int(3) }, eventId),
      prev_events: Array.from({ length: 1 + int(2) }, eventId),
      hashes: { sha256: chars(BASE64, 43) },
      signatures: { [origin]: { [`ed25519:${chars(BASE64URL, 6)}`]: chars(BASE64, 86) } },
      unsigned: { age_ts: 1_700_000_000_000 + int(1000) },
    });
  }
  return corpus;
}
