/**
 * A raw TCP connection to a test server, for what `fetch` can't do: send a request's head
 * without its body, trickle a body, or see exactly the bytes the server answered (an interim
 * `100 Continue`, a close before the body was read). It records everything received and lets a
 * test wait until that text matches a pattern, or until the server ends the connection.
 */
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  readonly socket: Socket;
  /** What the server has sent so far. */
  received(): string;
  /** Resolves with the received text once it matches `pattern`. */
  until(pattern: RegExp): Promise<string>;
  /** Resolves with everything received once the server has ended the connection (FIN or reset). */
  readonly ended: Promise<string>;
}

/** Connects to `127.0.0.1:port` and, once connected, writes `text` if given. */
export function openRawConnection(port: number, text?: string): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    const waiters: (() => void)[] = [];
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      for (const waiter of waiters.splice(0)) waiter();
    });
    // After the server closes, writes fail (EPIPE, ECONNRESET): expected in these tests.
    socket.on('error', () => {});
    // Nothing arrives after the server's FIN, so the text at 'end' is the whole answer.
    const ended = new Promise<string>((resolveEnded) => {
      socket.once('end', () => resolveEnded(received));
      socket.once('close', () => resolveEnded(received));
    });
    const until = (pattern: RegExp): Promise<string> =>
      new Promise((resolveMatch) => {
        const check = (): void => {
          if (pattern.test(received)) resolveMatch(received);
          else waiters.push(check);
        };
        check();
      });
    socket.once('connect', () => {
      if (text !== undefined) socket.write(text);
      resolve({ socket, received: () => received, until, ended });
    });
    // Only a failure to connect rejects; once resolved, this is a no-op.
    socket.once('error', reject);
  });
}
