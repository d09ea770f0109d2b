/**
 * The `weft` command: the SDK from a terminal. Global flags `--homeserver URL`, `--store FILE`
 * (default `./weft-client.db`) and `--json` (machine-readable output, one JSON value per line);
 * the store passphrase comes from `WEFT_PASSPHRASE` (never from a flag, so it stays out of shell
 * history and process lists). The account password of `register`/`login` likewise comes from
 * `WEFT_PASSWORD`, a prompt without echo (a terminal), or the first line of standard input.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

import { ClientError } from '../errors.ts';
import { WeftClient } from '../sdk/client.ts';
import type { TimelineEvent } from '../sdk/room-model.ts';
import { startWebServer } from '../web/server.ts';

const USAGE = `usage: weft [--homeserver URL] [--store FILE] [--json] <command> [args]

commands:
  register <user>                   create an account and this device
  login <user>                      log in as a new device (password: see below)
  rooms                             list rooms with membership and policy
  create [--name N] [--policy shared|epoch|forward-secret|none] [--invite @u:s ...]
  invite <room> <user>              join <room>          leave <room>
  kick <room> <user> [--rekey]      policy <room>
  send <room> <text>                send a message (encrypted per the room's policy)
  history <room> [--limit N]        load and print the room's history from the server
  tail <room>                       print new messages as they arrive (Ctrl-C stops)
  web [--listen HOST:PORT]          serve the web UI for the store's account (default
                                    127.0.0.1 and a free port); prints the URL to open

environment: WEFT_PASSPHRASE protects the local store (required)
             WEFT_HOMESERVER is the default of --homeserver (a store with a session
             always uses its own homeserver; naming another one is an error)
             WEFT_PASSWORD is the account password of register/login; without it the
             password is prompted for (no echo) or read from the first line of stdin`;

/** The user interrupted (Ctrl-C at a prompt): exit code 130, as a shell reports SIGINT. */
class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

/** Exit code of an interrupted command (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

/** Standard input as the CLI reads it (a parameter so tests can pass their own). */
export interface CliInput extends AsyncIterable<string | Buffer> {
  readonly isTTY?: boolean;
}

/**
 * The account password: `WEFT_PASSWORD`, else typed at a prompt without echo (a terminal), else
 * the first line of standard input. Never a command-line argument (shell history, `ps`).
 */
async function readPassword(
  env: Record<string, string | undefined>,
  stdin: CliInput,
): Promise<string> {
  const fromEnv = env['WEFT_PASSWORD'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (stdin.isTTY === true && stdin === process.stdin) {
    process.stderr.write('password: ');
    const rl = createInterface({ input: process.stdin, terminal: true });
    // Nothing typed is echoed (only the prompt above is written).
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        rl.once('line', resolve);
        // Ctrl-C at the prompt (readline takes the terminal raw, so no signal arrives): cancel.
        rl.once('SIGINT', () => reject(new Cancelled()));
        rl.once('close', () => reject(new RangeError('no password given')));
      });
    } finally {
      process.stderr.write('\n');
      rl.close();
    }
  }
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.includes('\n')) break;
  }
  const password = text.split(/\r?\n/)[0] ?? '';
  if (password === '') throw new RangeError('no password given (set WEFT_PASSWORD or pipe it)');
  return password;
}

interface Output {
  readonly json: boolean;
  print(human: string, value: unknown): void;
}

function line(event: TimelineEvent): string {
  if (event.decryptionError !== undefined)
    return `${event.sender}: [undecryptable: ${event.decryptionError.reason}]`;
  const body = event.content['body'];
  return typeof body === 'string' ? `${event.sender}: ${body}` : `${event.sender}: (${event.type})`;
}

function eventJson(event: TimelineEvent) {
  return {
    event_id: event.eventId,
    sender: event.sender,
    type: event.type,
    content: event.content,
    encrypted: event.encrypted,
    ...(event.decryptionError === undefined ? {} : { decryption_error: event.decryptionError }),
  };
}

/** `weft web`: serves the web UI until SIGINT/SIGTERM; the URL printed carries the launch token. */
async function runWeb(
  listen: string,
  storePath: string,
  homeserver: string | undefined,
  passphrase: string,
): Promise<number> {
  let server: Awaited<ReturnType<typeof startWebServer>>;
  try {
    server = await startWebServer({
      listen,
      storePath,
      passphrase,
      ...(homeserver === undefined ? {} : { homeserver }),
    });
  } catch (error) {
    console.error(
      `weft: ${ClientError.isInstance(error) ? `${error.code}: ` : ''}${String(error instanceof Error ? error.message : error)}`,
    );
    return 1;
  }
  console.log(`weft web: open ${server.launchUrl}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  return 0;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function runCli(
  argv: readonly string[],
  env: Record<string, string | undefined>,
  stdin: CliInput = process.stdin,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      homeserver: { type: 'string' },
      store: { type: 'string', default: './weft-client.db' },
      json: { type: 'boolean', default: false },
      name: { type: 'string' },
      policy: { type: 'string' },
      invite: { type: 'string', multiple: true },
      rekey: { type: 'boolean', default: false },
      limit: { type: 'string', default: '50' },
      help: { type: 'boolean', default: false },
      listen: { type: 'string', default: '127.0.0.1:0' },
    },
  });
  const out: Output = {
    json: values.json,
    print(human, value) {
      console.log(values.json ? JSON.stringify(value) : human);
    },
  };
  const [command, ...args] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const passphrase = env['WEFT_PASSPHRASE'];
  if (passphrase === undefined || passphrase === '') {
    console.error('weft: set WEFT_PASSPHRASE to the passphrase of the local store');
    return 2;
  }
  // Named by the user or undefined: a store with a session then uses its own homeserver.
  const homeserver = values.homeserver ?? (env['WEFT_HOMESERVER'] || undefined);
  if (command === 'web') return runWeb(values.listen, values.store, homeserver, passphrase);
  const progress = (text: string) => {
    if (!values.json) process.stderr.write(`${text}\n`);
  };
  let client: WeftClient | undefined;
  try {
    client = WeftClient.open({
      homeserver,
      storePath: values.store,
      passphrase,
    });
    const need = (i: number, what: string): string => {
      const value = args[i];
      if (value === undefined) throw new RangeError(`missing ${what}`);
      return value;
    };
    if (command === 'register' || command === 'login') {
      const user = need(0, 'user');
      if (args.length > 1)
        throw new RangeError(
          'the password is not an argument (it would land in shell history and ps): set WEFT_PASSWORD or type it when asked',
        );
      await client[command](user, await readPassword(env, stdin));
      out.print(`${client.userId} (device ${client.deviceId})`, {
        user_id: client.userId,
        device_id: client.deviceId,
      });
      return 0;
    }
    let stopped: Promise<void> | undefined;
    if (command === 'tail') {
      // Listening before the first sync means nothing that arrives while `tail` starts is lost:
      // it prints what reached the room since this store last synced, then new messages live.
      const roomId = need(0, 'room');
      client.onTimeline((room, event) => {
        if (room === roomId && event.status === 'sent') out.print(line(event), eventJson(event));
      });
      // Ctrl-C or a service manager's stop, even during the first sync: the `finally` below
      // stops the sync loop and closes the store.
      stopped = new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
    }
    progress('syncing…');
    await client.syncOnce(0);
    switch (command) {
      case 'rooms':
        for (const room of client.rooms()) {
          const policy =
            room.membership === 'join' ? (client.policy(room.roomId)?.mode ?? 'unencrypted') : '?';
          out.print(`${room.roomId}  ${room.membership}  ${policy}  ${room.name ?? ''}`, {
            room_id: room.roomId,
            membership: room.membership,
            policy,
            name: room.name ?? null,
          });
        }
        return 0;
      case 'create': {
        const policy =
          values.policy === 'none'
            ? null
            : ((values.policy ?? 'epoch') as 'shared' | 'epoch' | 'forward-secret');
        const roomId = await client.createRoom({
          policy,
          ...(values.name === undefined ? {} : { name: values.name }),
          ...(values.invite === undefined ? {} : { invite: values.invite }),
        });
        out.print(roomId, { room_id: roomId });
        return 0;
      }
      case 'invite':
        await client.invite(need(0, 'room'), need(1, 'user'));
        return 0;
      case 'join': {
        const roomId = await client.join(need(0, 'room'));
        out.print(roomId, { room_id: roomId });
        return 0;
      }
      case 'leave':
        await client.leave(need(0, 'room'));
        return 0;
      case 'kick':
        await client.kick(need(0, 'room'), need(1, 'user'), { rekey: values.rekey });
        return 0;
      case 'policy': {
        const policy = client.policy(need(0, 'room'));
        out.print(policy?.mode ?? 'unencrypted', policy ?? null);
        return 0;
      }
      case 'send': {
        const event = await client.sendText(need(0, 'room'), need(1, 'text'));
        out.print(event.eventId ?? '', { event_id: event.eventId });
        return 0;
      }
      case 'history': {
        const roomId = need(0, 'room');
        const limit = Number(values.limit);
        progress('downloading history…');
        client.dropHistory(roomId);
        let loaded = 0;
        for (;;) {
          const n = await client.loadOlder(roomId, Math.min(100, limit - loaded));
          loaded += n;
          progress(`  ${loaded} events`);
          if (n === 0 || loaded >= limit || client.room(roomId).prevBatch === undefined) break;
        }
        for (const event of client.room(roomId).timeline) {
          if (event.type === 'm.room.message' || event.decryptionError !== undefined) {
            out.print(line(event), eventJson(event));
          }
        }
        return 0;
      }
      case 'tail': {
        progress(`following ${need(0, 'room')} (Ctrl-C stops)`);
        client.startSync();
        await stopped;
        return 0;
      }
      default:
        console.error(`weft: unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof Cancelled) {
      if (values.json) console.log(JSON.stringify({ error: 'cancelled' }));
      else console.error('weft: cancelled');
      return EXIT_INTERRUPTED;
    }
    const message = ClientError.isInstance(error)
      ? `${error.code}: ${error.message}`
      : String(error);
    if (values.json) console.log(JSON.stringify({ error: message }));
    else console.error(`weft: ${message}`);
    return 1;
  } finally {
    await client?.close();
  }
}

if (import.meta.main) process.exitCode = await runCli(process.argv.slice(2), process.env);
