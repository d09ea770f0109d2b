/**
 * The `weft` command: the SDK from a terminal. Global flags `--homeserver URL`, `--store FILE`
 * (default `./weft-client.db`) and `--json` (machine-readable output, one JSON value per line);
 * the store passphrase comes from `WEFT_PASSPHRASE` (never from a flag, so it stays out of shell
 * history and process lists).
 */
import { parseArgs } from 'node:util';

import { ClientError } from '../errors.ts';
import { WeftClient } from '../sdk/client.ts';
import type { TimelineEvent } from '../sdk/room-model.ts';
import { startWebServer } from '../web/server.ts';

const USAGE = `usage: weft [--homeserver URL] [--store FILE] [--json] <command> [args]

commands:
  register <user> <password>        create an account and this device
  login <user> <password>           log in as a new device
  rooms                             list rooms with membership and policy
  create [--name N] [--policy shared|epoch|forward-secret|none] [--invite @u:s ...]
  invite <room> <user>              join <room>          leave <room>
  kick <room> <user> [--rekey]      policy <room>
  send <room> <text>                send a message (encrypted per the room's policy)
  history <room> [--limit N]        load and print the room's history from the server
  tail <room>                       print new messages as they arrive (Ctrl-C stops)
  web [--listen HOST:PORT]          serve the web UI for the store's account (default
                                    127.0.0.1 and a free port); prints the URL to open

environment: WEFT_PASSPHRASE protects the local store (required)`;

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
  homeserver: string,
  passphrase: string,
): Promise<number> {
  let server: Awaited<ReturnType<typeof startWebServer>>;
  try {
    server = await startWebServer({ listen, storePath, homeserver, passphrase });
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
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      homeserver: { type: 'string', default: env['WEFT_HOMESERVER'] ?? 'http://127.0.0.1:8008' },
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
  if (command === 'web') return runWeb(values.listen, values.store, values.homeserver, passphrase);
  const progress = (text: string) => {
    if (!values.json) process.stderr.write(`${text}\n`);
  };
  let client: WeftClient | undefined;
  try {
    client = WeftClient.open({
      homeserver: values.homeserver,
      storePath: values.store,
      passphrase,
    });
    const need = (i: number, what: string): string => {
      const value = args[i];
      if (value === undefined) throw new RangeError(`missing ${what}`);
      return value;
    };
    if (command === 'register' || command === 'login') {
      await client[command](need(0, 'user'), need(1, 'password'));
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
