/**
 * Server configuration: command-line flags (`--data-dir`, `--listen`, `--server-name`,
 * `--config`) over an optional YAML file over defaults. On first start the data directory gets a
 * documented `weft.yaml` with the defaults written out, so an operator can see and edit them.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { parse as parseYaml } from 'yaml';
import { isObject } from './json-object.ts';
import type { LogLevel } from './log.ts';
import type { AddressPolicyConfig } from './services/core/address-policy.ts';
import type { DatabaseConfig } from './storage/index.ts';

export interface ServerConfig {
  /** The server name: the part after the colon in user IDs (`@alice:<server_name>`). */
  readonly serverName: string;
  readonly dataDir: string;
  /** Client-server (and, until TLS is configured, federation) listener. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Base URL clients are told about in `.well-known/matrix/client`. */
  readonly publicBaseUrl: string;
  readonly database: DatabaseConfig;
  readonly registration: { readonly enabled: boolean };
  readonly media: {
    readonly maxUploadBytes: number;
    /** Largest file fetched from another server for local clients (larger: 502 `M_TOO_LARGE`). */
    readonly maxRemoteBytes: number;
    /** Most `POST /_matrix/media/v1/create` URIs a user may have pending (more: 429). */
    readonly maxPendingUploads: number;
    /**
     * Cached files of other servers not served for this long are deleted (Synapse's
     * `media_retention.remote_media_lifetime`); `undefined` (`never`) keeps them for ever.
     */
    readonly remoteMediaLifetimeMs: number | undefined;
    /** `GET /media/preview_url` (`media.url_preview:`); off by default. */
    readonly urlPreview: UrlPreviewConfig;
  };
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
  /**
   * `trusted_proxies:` peers (IP addresses or CIDRs) whose `X-Forwarded-For` is believed for the
   * client's address (per-address rate limits); empty (the default): the header is ignored.
   */
  readonly trustedProxies: readonly string[];
  /** `/sync` long-polling (`sync:` in weft.yaml). */
  readonly sync: {
    /** Least time between two answers to one long-polling device; 0 answers each change at once. */
    readonly answerIntervalMs: number;
    /** Longest a new timeline event waits in a held answer (answer-pacing.ts). */
    readonly eventWaitMs: number;
  };
  readonly logLevel: LogLevel;
  readonly federation: FederationConfig;
  /** The TURN server handed to clients by `GET /voip/turnServer` (`turn:`); absent → none. */
  readonly turn: TurnConfig | undefined;
  /** Delivery to push gateways (`push:` in weft.yaml). */
  readonly push: PushConfig;
}

/**
 * `push:` in weft.yaml: which addresses pusher URLs (`data.url`) may reach. By default no
 * notification goes to a loopback, private, link-local, shared (CGNAT), multicast or otherwise
 * reserved address (`DENIED_RANGES` in services/core/address-policy.ts), as Synapse's
 * `ip_range_blacklist`; `ip_range_whitelist` lets chosen ranges through, and
 * `allow_private_addresses: true` turns the check off (tests, a gateway on the same host).
 */
export interface PushConfig {
  readonly allowPrivateAddresses: boolean;
  /** CIDRs (`10.1.0.0/16`, `fd00::/8`) or single addresses allowed despite the deny list. */
  readonly ipRangeWhitelist: readonly string[];
}

/**
 * `media.url_preview:` in weft.yaml: whether `GET /_matrix/client/v1/media/preview_url` (and the
 * deprecated media v3/r0 paths) fetch pages for clients, and which addresses those fetches (and
 * their redirects and `og:image`s) may reach: the deny list of the push gateways
 * (services/core/address-policy.ts), its own `ip_range_whitelist` and `allow_private_addresses`.
 * Off by default, as Synapse's `url_preview_enabled`; off, the endpoints are not served (404
 * `M_UNRECOGNIZED`, as Synapse, which registers them only when enabled).
 */
export interface UrlPreviewConfig {
  readonly enabled: boolean;
  readonly allowPrivateAddresses: boolean;
  /** CIDRs (`10.1.0.0/16`, `fd00::/8`) or single addresses allowed despite the deny list. */
  readonly ipRangeWhitelist: readonly string[];
}

/**
 * `turn:` in weft.yaml. With `shared_secret`, each answer carries fresh time-limited credentials
 * in the TURN REST API convention coturn's `use-auth-secret` checks; with `username` and
 * `password`, those fixed credentials. The secret and password are never logged.
 */
export interface TurnConfig {
  /** `turn:` / `turns:` URIs. */
  readonly uris: readonly string[];
  /** How long handed-out credentials are valid (`ttl` of the answer, in ms). */
  readonly userLifetimeMs: number;
  readonly credentials:
    | { readonly sharedSecret: string }
    | { readonly username: string; readonly password: string };
}

/**
 * Federation settings (`federation:` in weft.yaml). The federation API and the key endpoints are
 * served only on the TLS listener; outbound requests verify certificates unless
 * `insecureSkipTlsVerify` is set explicitly. `allow_private_addresses` and `ip_range_whitelist`
 * are the outbound address policy (services/core/address-policy.ts, as Synapse's
 * `ip_range_blacklist`/`ip_range_whitelist`): by default no federation request (nor the
 * `.well-known` lookup of discovery) connects to a loopback, private or otherwise reserved
 * address, whatever a server name, its SRV record, `.well-known` or a `hosts` entry points to.
 */
export interface FederationConfig extends AddressPolicyConfig {
  readonly enabled: boolean;
  /** TLS listener for `/_matrix/federation/*` and `/_matrix/key/*`; absent → not served. */
  readonly listen: { readonly host: string; readonly port: number } | undefined;
  readonly tlsCert: string | undefined;
  readonly tlsKey: string | undefined;
  /** An extra CA (PEM file) trusted for outbound federation requests. */
  readonly caFile: string | undefined;
  /** Explicit `server name → host:port` map; wins over `.well-known` discovery. */
  readonly hosts: Readonly<Record<string, string>>;
  /** DNS servers (`ip` or `ip:port`) asked for SRV records; empty → the system's. */
  readonly dnsServers: readonly string[];
  readonly insecureSkipTlsVerify: boolean;
  /** Retired verify keys published in `old_verify_keys` (`key ID → { key, expired_ts }`). */
  readonly oldKeys: Readonly<Record<string, { readonly key: string; readonly expiredTs: number }>>;
  /**
   * Notary servers asked (`/_matrix/key/v2/query`) for a server's keys when that server's own
   * key endpoint cannot be reached; `verifyKeys` (key ID → unpadded Base64) pins the notary's
   * keys, otherwise they are fetched from the notary itself.
   */
  readonly trustedKeyServers: readonly TrustedKeyServer[];
}

/** One entry of `federation.trusted_key_servers`. */
export interface TrustedKeyServer {
  readonly serverName: string;
  readonly verifyKeys: Readonly<Record<string, string>>;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const USAGE = `weft-server: the Weft Matrix homeserver

Usage: weft-server [--data-dir DIR] [--listen HOST:PORT] [--server-name NAME] [--config FILE]

  --data-dir DIR       where the database, signing key, media and weft.yaml live (default ./data)
  --listen HOST:PORT   address to serve the client-server API on (default 127.0.0.1:8008)
  --server-name NAME   the server's name in user and room IDs (default: localhost); fixed once
                       users exist
  --config FILE        a YAML config file (default: DIR/weft.yaml, written on first start)
  --help               show this text

Every other option lives in the config file; see apps/server/README.md.
`;

/**
 * The default `sync.answer_interval_ms` (decision record of session 6 in ARCHITECTURE.md). It and
 * the event wait below are what the default file writes out for a new data directory.
 */
export const DEFAULT_SYNC_ANSWER_INTERVAL_MS = 40;

/**
 * The default `sync.event_wait_ms`: 25 ms from session 12, 15 since session 18 (decision records
 * "session 12, 06:50" and "session 18 — an event wait of 15 ms" in ARCHITECTURE.md).
 */
export const DEFAULT_SYNC_EVENT_WAIT_MS = 15;

const DEFAULT_FILE = `# Weft homeserver configuration (YAML). Command-line flags override these values.

# The name in user IDs (@alice:<server_name>). Do not change it once users exist.
server_name: localhost

# Where the client-server API listens.
listen: 127.0.0.1:8008

# The base URL clients should use (served at /.well-known/matrix/client).
# public_base_url: http://127.0.0.1:8008

# Storage: SQLite in the data directory (default), or PostgreSQL.
database:
  backend: sqlite
  # durability: normal   # normal survives process crashes; full also power loss (slower)
  # backend: postgres
  # connection_string: postgresql://weft@localhost/weft

registration:
  enabled: true

media:
  max_upload_bytes: 52428800   # 50 MiB
  max_remote_bytes: 52428800   # largest file fetched from another server (default 50 MiB)
  max_pending_uploads: 10      # created (POST /media/v1/create) but not yet uploaded, per user
  # Other servers' media cached here is deleted once not downloaded for this long (fetched again
  # when asked for). A number of ms, or 30s, 10m, 12h, 90d, 2w, 1y; never keeps it for ever.
  remote_media_lifetime: 90d
  # URL previews (GET /media/preview_url) for links in messages: the server fetches the page.
  # Never from loopback, private, link-local or other reserved addresses unless allowed here.
  url_preview:
    enabled: false
    allow_private_addresses: false
    # ip_range_whitelist: [10.20.0.0/16]   # ranges let through despite the deny list

rate_limit:
  per_second: 20
  burst: 100

# Requests without an access token (login, registration) are rate-limited per client address:
# the connection's. Behind a reverse proxy, list it here (IP addresses or CIDRs) so the address
# it appends to X-Forwarded-For is used instead; the header is ignored from anyone else.
trusted_proxies: []   # e.g. [127.0.0.1, ::1]

# /sync long-polling: the least time between two answers to one device (ms). In a busy room a
# device then gets several events in one answer instead of one answer per event, which saves
# most of the server's work per event; a change for a device not answered within the interval
# goes out at once. 0 answers every change at once. event_wait_ms: the longest a new message
# waits in such a held answer (the hold ends then, even inside the interval).
sync:
  answer_interval_ms: ${DEFAULT_SYNC_ANSWER_INTERVAL_MS}
  event_wait_ms: ${DEFAULT_SYNC_EVENT_WAIT_MS}

log_level: info   # debug | info | warn | error

# Federation (server-server API). It is served over TLS only, on its own listener, together with
# the key endpoints (/_matrix/key/v2/*); without tls_cert/tls_key no federation listener starts.
federation:
  enabled: true
  # listen: 0.0.0.0:8448
  # tls_cert: /path/to/fullchain.pem
  # tls_key: /path/to/privkey.pem
  # ca_file: /path/to/extra-ca.pem      # an extra CA trusted for outbound requests
  # hosts:                               # explicit server name -> host:port (wins over discovery)
  #   other.example: 127.0.0.1:8449
  # dns_servers: [127.0.0.1:53]          # DNS servers asked for SRV records (default: the system's)
  # insecure_skip_tls_verify: false      # never set this outside a lab
  # Outbound requests never go to loopback, private (RFC 1918), link-local, CGNAT, unique-local,
  # multicast or other reserved addresses (whatever a server name resolves to), unless allowed here.
  allow_private_addresses: false
  # ip_range_whitelist: [10.20.0.0/16]   # ranges let through despite the deny list
  # old_keys:                            # retired signing keys, published in old_verify_keys
  #   ed25519:old: { key: <unpadded base64 public key>, expired_ts: 1700000000000 }
  # trusted_key_servers:                 # notaries asked for a server's keys when it is unreachable
  #   - server_name: notary.example
  #     verify_keys: { ed25519:abc: <unpadded base64 public key> }   # optional: pins its keys

# A TURN server for voice and video calls (GET /voip/turnServer); without it none is offered.
# turn:
#   uris: ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349?transport=tcp"]
#   shared_secret: <coturn static-auth-secret>   # time-limited credentials per user, or instead:
#   # username: <fixed user>
#   # password: <fixed password>
#   user_lifetime_ms: 86400000                   # how long handed-out credentials last (1 day)

# Push gateways (pusher data.url): notifications never go to loopback, private (RFC 1918),
# link-local, CGNAT, unique-local, multicast or other reserved addresses, unless allowed here.
push:
  allow_private_addresses: false
  # ip_range_whitelist: [10.20.0.0/16, "fd00:1::/64"]   # ranges let through despite the deny list
`;

function parseListen(value: string): { host: string; port: number } {
  const match = /^(.*):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port > 65535) {
    throw new ConfigError(`listen must be HOST:PORT, got ${JSON.stringify(value)}`);
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function get(object: unknown, key: string): unknown {
  return typeof object === 'object' && object !== null
    ? (object as Record<string, unknown>)[key]
    : undefined;
}

function ofType<T>(value: unknown, check: (v: unknown) => v is T, what: string, fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (!check(value)) throw new ConfigError(`${what} has the wrong type`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

/** Parses flags, reads (or creates) the config file, and returns the merged configuration. */
export function loadConfig(argv: readonly string[]): ServerConfig | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'data-dir': { type: 'string' },
      listen: { type: 'string' },
      'server-name': { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const dataDir = resolve(values['data-dir'] ?? 'data');
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (cause) {
    // An existing file (EEXIST), a file on the way (ENOTDIR), no permission (EACCES): the
    // operator's to fix, said plainly rather than as a stack trace.
    const code = (cause as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'EEXIST' || code === 'ENOTDIR'
        ? `data directory ${dataDir} is not a directory`
        : `cannot create the data directory ${dataDir}: ${(cause as Error).message}`,
    );
  }
  const configPath = resolve(values.config ?? join(dataDir, 'weft.yaml'));
  if (!existsSync(configPath)) {
    if (values.config !== undefined) throw new ConfigError(`config file not found: ${configPath}`);
    writeFileSync(configPath, DEFAULT_FILE, { mode: 0o600 });
  }
  let file: unknown;
  try {
    file = parseYaml(readFileSync(configPath, 'utf8')) ?? {};
  } catch (cause) {
    throw new ConfigError(`cannot parse ${configPath}: ${(cause as Error).message}`);
  }
  return buildConfig(file, {
    dataDir,
    ...(values.listen !== undefined ? { listen: values.listen } : {}),
    ...(values['server-name'] !== undefined ? { serverName: values['server-name'] } : {}),
  });
}

/** Merges a parsed config file with flag overrides (exported for tests). */
export function buildConfig(
  file: unknown,
  flags: { dataDir: string; listen?: string; serverName?: string },
): ServerConfig {
  const serverName =
    flags.serverName ?? ofType(get(file, 'server_name'), isString, 'server_name', 'localhost');
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(serverName)) {
    throw new ConfigError(`server_name ${JSON.stringify(serverName)} is not a valid server name`);
  }
  const listen = parseListen(
    flags.listen ?? ofType(get(file, 'listen'), isString, 'listen', '127.0.0.1:8008'),
  );
  const database = get(file, 'database');
  const backend = ofType(get(database, 'backend'), isString, 'database.backend', 'sqlite');
  let databaseConfig: DatabaseConfig;
  if (backend === 'postgres') {
    const connectionString = get(database, 'connection_string');
    if (!isString(connectionString)) {
      throw new ConfigError('database.connection_string is required for the postgres backend');
    }
    databaseConfig = { backend: 'postgres', connectionString };
  } else if (backend === 'sqlite') {
    const durability = ofType(get(database, 'durability'), isString, 'durability', 'normal');
    if (durability !== 'normal' && durability !== 'full') {
      throw new ConfigError('database.durability must be normal or full');
    }
    const path = get(database, 'path');
    databaseConfig = {
      backend: 'sqlite',
      durability,
      ...(isString(path) ? { path: resolve(flags.dataDir, path) } : {}),
    };
  } else {
    throw new ConfigError(`database.backend must be sqlite or postgres, got ${backend}`);
  }
  const logLevel = ofType(get(file, 'log_level'), isString, 'log_level', 'info');
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new ConfigError('log_level must be debug, info, warn or error');
  }
  const hostForUrl = listen.host.includes(':') ? `[${listen.host}]` : listen.host;
  return {
    serverName,
    dataDir: flags.dataDir,
    listen,
    publicBaseUrl: ofType(
      get(file, 'public_base_url'),
      isString,
      'public_base_url',
      `http://${hostForUrl}:${listen.port}`,
    ).replace(/\/$/, ''),
    database: databaseConfig,
    registration: {
      enabled: ofType(
        get(get(file, 'registration'), 'enabled'),
        isBoolean,
        'registration.enabled',
        true,
      ),
    },
    media: {
      maxUploadBytes: ofType(
        get(get(file, 'media'), 'max_upload_bytes'),
        isNumber,
        'media.max_upload_bytes',
        50 * 1024 * 1024,
      ),
      maxRemoteBytes: ofType(
        get(get(file, 'media'), 'max_remote_bytes'),
        isNumber,
        'media.max_remote_bytes',
        50 * 1024 * 1024,
      ),
      maxPendingUploads: ofType(
        get(get(file, 'media'), 'max_pending_uploads'),
        isNumber,
        'media.max_pending_uploads',
        10,
      ),
      remoteMediaLifetimeMs: remoteMediaLifetime(get(get(file, 'media'), 'remote_media_lifetime')),
      urlPreview: buildUrlPreviewConfig(get(get(file, 'media'), 'url_preview')),
    },
    rateLimit: {
      perSecond: ofType(
        get(get(file, 'rate_limit'), 'per_second'),
        isNumber,
        'rate_limit.per_second',
        20,
      ),
      burst: ofType(get(get(file, 'rate_limit'), 'burst'), isNumber, 'rate_limit.burst', 100),
    },
    trustedProxies: buildTrustedProxies(get(file, 'trusted_proxies')),
    sync: {
      answerIntervalMs: syncMilliseconds(
        get(get(file, 'sync'), 'answer_interval_ms'),
        'answer_interval_ms',
        DEFAULT_SYNC_ANSWER_INTERVAL_MS,
      ),
      eventWaitMs: syncMilliseconds(
        get(get(file, 'sync'), 'event_wait_ms'),
        'event_wait_ms',
        DEFAULT_SYNC_EVENT_WAIT_MS,
      ),
    },
    logLevel: logLevel as LogLevel,
    federation: buildFederationConfig(get(file, 'federation'), flags.dataDir),
    turn: buildTurnConfig(get(file, 'turn')),
    push: buildPushConfig(get(file, 'push')),
  };
}

/** `push:`: `allow_private_addresses` and `ip_range_whitelist` (each entry a CIDR or an IP). */
function buildPushConfig(section: unknown): PushConfig {
  return buildAddressOptions(section, 'push');
}

/**
 * Default `media.remote_media_lifetime`: 90 days. Synapse purges nothing unless
 * `media_retention.remote_media_lifetime` is set; here the cache is bounded by default.
 */
export const DEFAULT_REMOTE_MEDIA_LIFETIME_MS = 90 * 86_400_000;

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  y: 365 * 86_400_000,
};

/**
 * A duration as Synapse writes them: a number of milliseconds, or a number with a unit (`ms`,
 * `s`, `m`, `h`, `d`, `w`, `y`: `30s`, `12h`, `90d`); `undefined` when malformed.
 */
export function parseDuration(value: unknown): number | undefined {
  if (isNumber(value)) return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (!isString(value)) return undefined;
  const match = /^\s*(\d{1,12})\s*(ms|s|m|h|d|w|y)?\s*$/.exec(value);
  if (match === null) return undefined;
  const ms = Number(match[1]) * (DURATION_UNITS[match[2] ?? 'ms'] ?? 1);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

/** `media.remote_media_lifetime`: a duration of at least one minute, or `never`. */
function remoteMediaLifetime(value: unknown): number | undefined {
  if (value === undefined || value === null) return DEFAULT_REMOTE_MEDIA_LIFETIME_MS;
  if (value === 'never') return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 60_000) {
    throw new ConfigError(
      'media.remote_media_lifetime must be a duration of at least 1m (e.g. 90d, 12h), or never',
    );
  }
  return ms;
}

/** `media.url_preview:`: `enabled` and the address options of {@link buildAddressOptions}. */
function buildUrlPreviewConfig(section: unknown): UrlPreviewConfig {
  const where = 'media.url_preview';
  const options = buildAddressOptions(section, where);
  return {
    enabled: ofType(get(section, 'enabled'), isBoolean, `${where}.enabled`, false),
    ...options,
  };
}

/** A section's `allow_private_addresses` and `ip_range_whitelist` (each a CIDR or an IP). */
function buildAddressOptions(section: unknown, where: string): PushConfig {
  if (section !== undefined && section !== null) {
    if (typeof section !== 'object' || Array.isArray(section)) {
      throw new ConfigError(`${where} must be a map`);
    }
  }
  const allowPrivateAddresses = ofType(
    get(section, 'allow_private_addresses'),
    isBoolean,
    `${where}.allow_private_addresses`,
    false,
  );
  const whitelist = get(section, 'ip_range_whitelist') ?? [];
  if (!Array.isArray(whitelist)) {
    throw new ConfigError(`${where}.ip_range_whitelist must be a list of CIDRs (e.g. 10.1.0.0/16)`);
  }
  whitelist.forEach((entry, i) => {
    if (!isString(entry) || parseCidr(entry) === undefined) {
      throw new ConfigError(
        `${where}.ip_range_whitelist[${i}] is not an IP address or CIDR: ${JSON.stringify(entry)}`,
      );
    }
  });
  return { allowPrivateAddresses, ipRangeWhitelist: whitelist as string[] };
}

/** `trusted_proxies:` a list of IP addresses or CIDRs (absent or null: none). */
function buildTrustedProxies(value: unknown): readonly string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError('trusted_proxies must be a list of IP addresses or CIDRs');
  }
  value.forEach((entry, i) => {
    if (!isString(entry) || parseCidr(entry) === undefined) {
      throw new ConfigError(
        `trusted_proxies[${i}] is not an IP address or CIDR: ${JSON.stringify(entry)}`,
      );
    }
  });
  return value as string[];
}

/** `addr/prefix` or a single address → its parts; undefined when malformed. */
export function parseCidr(
  value: string,
): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | undefined {
  const slash = value.indexOf('/');
  const address = slash === -1 ? value : value.slice(0, slash);
  const version = isIP(address);
  if (version === 0) return undefined;
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : value.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

/** Default `turn.user_lifetime_ms`: one day, as Synapse's `turn_user_lifetime`. */
const DEFAULT_TURN_USER_LIFETIME_MS = 86_400_000;

/** `turn:`; error messages name the fields, never their values (the secret stays out of logs). */
function buildTurnConfig(section: unknown): TurnConfig | undefined {
  if (section === undefined || section === null) return undefined;
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ConfigError('turn must be a map');
  }
  const uris = get(section, 'uris');
  if (
    !Array.isArray(uris) ||
    uris.length === 0 ||
    !uris.every((uri) => isString(uri) && /^turns?:\S+$/.test(uri))
  ) {
    throw new ConfigError('turn.uris must be a non-empty list of turn: or turns: URIs');
  }
  const userLifetimeMs = ofType(
    get(section, 'user_lifetime_ms'),
    isNumber,
    'turn.user_lifetime_ms',
    DEFAULT_TURN_USER_LIFETIME_MS,
  );
  if (!Number.isSafeInteger(userLifetimeMs) || userLifetimeMs < 1000) {
    throw new ConfigError('turn.user_lifetime_ms must be an integer of at least 1000');
  }
  const sharedSecret = ofType(get(section, 'shared_secret'), isString, 'turn.shared_secret', '');
  const username = ofType(get(section, 'username'), isString, 'turn.username', '');
  const password = ofType(get(section, 'password'), isString, 'turn.password', '');
  if (sharedSecret !== '' && (username !== '' || password !== '')) {
    throw new ConfigError('turn takes either shared_secret or username and password, not both');
  }
  if (sharedSecret !== '') return { uris, userLifetimeMs, credentials: { sharedSecret } };
  if (username === '' || password === '') {
    throw new ConfigError('turn needs shared_secret, or username and password');
  }
  return { uris, userLifetimeMs, credentials: { username, password } };
}

/**
 * `sync.answer_interval_ms` or `sync.event_wait_ms`: 0 to 1,000 ms (more would hold every busy
 * device's events back).
 */
function syncMilliseconds(value: unknown, name: string, fallback: number): number {
  const ms = ofType(value, isNumber, `sync.${name}`, fallback);
  if (ms < 0 || ms > 1000) {
    throw new ConfigError(`sync.${name} must be between 0 and 1000`);
  }
  return ms;
}

function buildFederationConfig(section: unknown, dataDir: string): FederationConfig {
  const path = (key: string): string | undefined => {
    const value = ofType(get(section, key), isString, `federation.${key}`, '');
    return value === '' ? undefined : resolve(dataDir, value);
  };
  const listen = ofType(get(section, 'listen'), isString, 'federation.listen', '');
  const hostsValue = get(section, 'hosts') ?? {};
  if (!isObject(hostsValue)) {
    throw new ConfigError('federation.hosts must be a map of server name to host:port');
  }
  const hosts: Record<string, string> = {};
  for (const [name, target] of Object.entries(hostsValue)) {
    if (typeof target !== 'string')
      throw new ConfigError(`federation.hosts.${name} must be a string`);
    parseListen(target);
    hosts[name] = target;
  }
  const dnsServers = get(section, 'dns_servers') ?? [];
  if (!Array.isArray(dnsServers) || !dnsServers.every(isString)) {
    throw new ConfigError('federation.dns_servers must be a list of ip or ip:port strings');
  }
  const oldKeysValue = get(section, 'old_keys') ?? {};
  const oldKeys: Record<string, { key: string; expiredTs: number }> = {};
  for (const [keyId, entry] of Object.entries(oldKeysValue as Record<string, unknown>)) {
    const key = get(entry, 'key');
    const expiredTs = get(entry, 'expired_ts');
    if (!isString(key) || !isNumber(expiredTs)) {
      throw new ConfigError(`federation.old_keys.${keyId} needs key and expired_ts`);
    }
    oldKeys[keyId] = { key, expiredTs };
  }
  return {
    ...buildAddressOptions(section, 'federation'),
    enabled: ofType(get(section, 'enabled'), isBoolean, 'federation.enabled', true),
    listen: listen === '' ? undefined : parseListen(listen),
    tlsCert: path('tls_cert'),
    tlsKey: path('tls_key'),
    caFile: path('ca_file'),
    hosts,
    dnsServers,
    insecureSkipTlsVerify: ofType(
      get(section, 'insecure_skip_tls_verify'),
      isBoolean,
      'federation.insecure_skip_tls_verify',
      false,
    ),
    oldKeys,
    trustedKeyServers: buildTrustedKeyServers(get(section, 'trusted_key_servers')),
  };
}

function buildTrustedKeyServers(value: unknown): TrustedKeyServer[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError('federation.trusted_key_servers must be a list');
  }
  return value.map((entry, i) => {
    const serverName = get(entry, 'server_name');
    const verifyKeys = get(entry, 'verify_keys') ?? {};
    if (!isString(serverName) || serverName === '') {
      throw new ConfigError(`federation.trusted_key_servers[${i}].server_name must be a string`);
    }
    if (
      typeof verifyKeys !== 'object' ||
      verifyKeys === null ||
      Array.isArray(verifyKeys) ||
      !Object.values(verifyKeys).every(isString)
    ) {
      throw new ConfigError(
        `federation.trusted_key_servers[${i}].verify_keys must map key IDs to base64 keys`,
      );
    }
    return { serverName, verifyKeys: verifyKeys as Record<string, string> };
  });
}
