/**
 * A lean HTTP/1.1 client for the benchmarks' load generators, in the way wrk's and autocannon's
 * are built: keep-alive `node:net` sockets, one request in flight on each (what a long-polling
 * Matrix client does), each request written as one preformatted string, and responses parsed
 * just enough — status line, framing (Content-Length or chunked), the rest of the headers
 * skipped without building objects — before the body bytes are returned in one piece.
 *
 * Why: the load generator runs on the same two cores as the server it measures, so every
 * millisecond it spends is taken from the server. `node:http`'s client (a parser, header
 * objects, an IncomingMessage stream per response) cost ≈ 0.9 ms of bench CPU per delivered
 * event. The server still receives ordinary HTTP/1.1 requests, so the figures stay comparable.
 *
 * Not a general client: no TLS, no redirects, no request streaming, no pipelining.
 */
import { connect, type Socket } from 'node:net';

/** A complete response: its status and its body, decoded as UTF-8. */
export interface LeanResponse {
  readonly status: number;
  readonly text: string;
}

/** The server closed (or reset) the connection before the response was complete. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
}

/** The server's bytes are not an HTTP/1.x response this client can read. */
export class ResponseFormatError extends Error {
  override readonly name = 'ResponseFormatError';
}

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
/** A response head longer than this is refused rather than buffered without end. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Reads one HTTP/1.x response from the bytes pushed into it (RFC 9112): the status line, the
 * framing headers (a chunked Transfer-Encoding wins over Content-Length, §6.3), then the body.
 * Bytes of a line split across two reads are kept in `pending` until the line is whole.
 */
export class ResponseReader {
  status = 0;
  /** Whether the connection can carry another request after this response. */
  keepAlive = true;
  /** Whether any byte of the response has arrived. */
  started = false;
  private state: 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailer' | 'eof' =
    'head';
  private pending: Buffer | undefined;
  /** Body bytes still to come: of the whole body (`length`) or of the current chunk. */
  private remaining = 0;
  private readonly body: Buffer[] = [];

  /** Takes the next bytes from the socket; true once the response is complete. */
  push(chunk: Buffer): boolean {
    this.started = true;
    let bytes = chunk;
    if (this.pending !== undefined) {
      bytes = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let at = 0;
    for (;;) {
      switch (this.state) {
        case 'head': {
          const end = bytes.indexOf(HEAD_END, at);
          if (end === -1) return this.keep(bytes, at, MAX_HEAD_BYTES);
          at = this.readHead(bytes.toString('latin1', at, end), end + 4);
          break;
        }
        case 'length':
        case 'chunk-data': {
          const take = Math.min(this.remaining, bytes.length - at);
          if (take > 0) this.body.push(bytes.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining > 0) return false;
          if (this.state === 'length') return this.finish(bytes, at);
          this.state = 'chunk-end';
          break;
        }
        case 'eof':
          // No framing: the body runs to the end of the connection (see `close`).
          this.body.push(bytes.subarray(at));
          return false;
        default: {
          // The line-oriented parts of chunked coding (RFC 9112 §7.1).
          const eol = bytes.indexOf(CRLF, at);
          if (eol === -1) return this.keep(bytes, at, 1024);
          const line = bytes.toString('latin1', at, eol);
          at = eol + 2;
          if (this.state === 'chunk-size') {
            // A chunk extension after ';' carries nothing this client needs.
            const size = /^[0-9a-fA-F]+/.exec(line);
            if (size === null) throw new ResponseFormatError(`bad chunk size line: ${line}`);
            this.remaining = Number.parseInt(size[0], 16);
            this.state = this.remaining === 0 ? 'trailer' : 'chunk-data';
          } else if (this.state === 'chunk-end') {
            if (line !== '') throw new ResponseFormatError('chunk data longer than its size');
            this.state = 'chunk-size';
          } else if (line === '') {
            // The empty line after the (skipped) trailer fields ends the message.
            return this.finish(bytes, at);
          }
        }
      }
    }
  }

  /** The connection closed: completes a response whose body runs to the end of it. */
  close(): boolean {
    return this.state === 'eof';
  }

  /** The body, decoded once. */
  text(): string {
    const body = this.body.length === 1 ? (this.body[0] as Buffer) : Buffer.concat(this.body);
    return body.toString('utf8');
  }

  /** Parses a response head (without its final blank line); returns where the body starts. */
  private readHead(head: string, bodyStart: number): number {
    const statusLine = /^HTTP\/1\.([01]) (\d{3})/.exec(head);
    if (statusLine === null) throw new ResponseFormatError(`bad status line: ${head.slice(0, 40)}`);
    this.status = Number(statusLine[2]);
    // An interim response (100 Continue …) is followed by the real one on the same connection.
    if (this.status < 200) return bodyStart;
    this.keepAlive = statusLine[1] === '1' && !/\r\nconnection:[^\r]*\bclose\b/i.test(head);
    const length = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(?:\r|$)/i.exec(head);
    if (this.status === 204 || this.status === 304) {
      this.state = 'length';
      this.remaining = 0;
    } else if (/\r\ntransfer-encoding:[^\r]*\bchunked\b/i.test(head)) {
      this.state = 'chunk-size';
    } else if (length !== null) {
      this.state = 'length';
      this.remaining = Number(length[1]);
    } else {
      this.state = 'eof';
      this.keepAlive = false;
    }
    return bodyStart;
  }

  /** Keeps the unread tail of `bytes` for the next push, up to `limit` bytes. */
  private keep(bytes: Buffer, at: number, limit: number): false {
    if (bytes.length - at > limit) throw new ResponseFormatError('response line too long');
    this.pending = bytes.subarray(at);
    return false;
  }

  private finish(bytes: Buffer, at: number): true {
    // One request is in flight at a time, so any byte after the response is a server error.
    if (at !== bytes.length) throw new ResponseFormatError('bytes after the end of the response');
    return true;
  }
}

/** One keep-alive connection carrying one request at a time. */
class Connection {
  readonly socket: Socket;
  private reader: ResponseReader | undefined;
  private settle:
    | { ok: (response: LeanResponse) => void; fail: (error: Error) => void }
    | undefined;
  private error: Error | undefined;

  constructor(host: string, port: number, onIdleClose: (connection: Connection) => void) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // 'close' always follows 'error': the request is settled there, with this error as cause.
    this.socket.on('error', (error) => {
      this.error = error;
    });
    this.socket.on('close', () => {
      const reader = this.reader;
      if (reader === undefined) return onIdleClose(this);
      if (this.error === undefined && reader.close()) return this.done(reader);
      this.fail(
        new ConnectionClosedError(
          `connection closed ${reader.started ? 'during' : 'before'} the response`,
          { cause: this.error },
        ),
      );
    });
  }

  request(text: string): Promise<LeanResponse> {
    this.reader = new ResponseReader();
    return new Promise((ok, fail) => {
      this.settle = { ok, fail };
      this.socket.write(text);
    });
  }

  private onData(chunk: Buffer): void {
    const reader = this.reader;
    if (reader === undefined) {
      // Bytes nobody asked for: the connection's framing can no longer be trusted.
      this.socket.destroy();
      return;
    }
    try {
      if (reader.push(chunk)) this.done(reader);
    } catch (error) {
      this.socket.destroy();
      this.fail(error as Error);
    }
  }

  private done(reader: ResponseReader): void {
    const settle = this.settle;
    this.reader = undefined;
    this.settle = undefined;
    if (!reader.keepAlive) this.socket.destroy();
    settle?.ok({ status: reader.status, text: reader.text() });
  }

  private fail(error: Error): void {
    const settle = this.settle;
    this.reader = undefined;
    this.settle = undefined;
    settle?.fail(error);
  }
}

/**
 * A client for the server at `base` (`http://host:port`): `request` takes an idle connection or
 * opens one, so N concurrent requests (N long-polls) hold N connections. A request whose
 * connection the server closed before answering — a keep-alive socket closed just as it was
 * reused — is retried once on a new connection; callers make that safe (sends carry
 * transaction IDs). Any other failure, and a second close, reaches the caller.
 */
export function leanHttpClient(base: string) {
  const { hostname, port, protocol } = new URL(base);
  if (protocol !== 'http:') throw new Error(`lean-http speaks plain HTTP only, not ${protocol}`);
  const portNumber = Number(port === '' ? 80 : port);
  const hostLine = `Host: ${hostname}:${portNumber}\r\n`;
  // A stack: push and pop cost nothing, and the connection used last is the warmest (a Set
  // taken from its start walks the holes its deletions leave: it showed in profiles).
  const idle: Connection[] = [];
  const forget = (connection: Connection) => {
    const index = idle.indexOf(connection);
    if (index !== -1) idle.splice(index, 1);
  };

  const attempt = async (text: string): Promise<LeanResponse> => {
    const connection = idle.pop() ?? new Connection(hostname, portNumber, forget);
    const response = await connection.request(text);
    if (!connection.socket.destroyed) idle.push(connection);
    return response;
  };

  return {
    /** Sends one request (`body` is sent as JSON) and reads its whole response. */
    async request(method: string, path: string, token?: string, body?: string) {
      // One string, one socket write: the request line and every header preformatted.
      let text = `${method} ${path} HTTP/1.1\r\n${hostLine}`;
      if (token !== undefined) text += `Authorization: Bearer ${token}\r\n`;
      if (body === undefined) text += '\r\n';
      else {
        text += `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      }
      try {
        return await attempt(text);
      } catch (error) {
        if (!(error instanceof ConnectionClosedError)) throw error;
        return await attempt(text);
      }
    },
    /** Closes the idle connections (those in use close when their server does). */
    close(): void {
      for (const connection of idle.splice(0)) connection.socket.destroy();
    },
  };
}
