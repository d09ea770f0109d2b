/**
 * The benchmarks' lean HTTP client (bench/lean-http.ts) against real servers on loopback: a
 * node:http server for the framings it must read, and raw node:net servers for what node:http
 * never sends on its own (bytes split at every position, a closed keep-alive connection,
 * malformed responses).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import {
  ConnectionClosedError,
  leanHttpClient,
  ResponseFormatError,
  ResponseReader,
} from '../bench/lean-http.ts';

const servers: Array<Server | NetServer> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen<T extends Server | NetServer>(server: T): Promise<string> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

/** A raw server answering the nth request on any connection with `answer(n, socket)`. */
async function rawServer(answer: (n: number, socket: Socket, request: string) => void) {
  let n = 0;
  const sockets: Socket[] = [];
  const base = await listen(
    createNetServer((socket) => {
      sockets.push(socket);
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString('latin1');
        // Requests here have no body or a JSON one: complete once its Content-Length arrived.
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered)?.[1] ?? 0);
        if (buffered.length < end + 4 + length) return;
        const request = buffered;
        buffered = '';
        answer(n++, socket, request);
      });
    }),
  );
  return { base, sockets };
}

describe('lean-http against node:http', () => {
  it('reads Content-Length and chunked bodies, status and UTF-8, over one kept-alive connection', async () => {
    const seen: Array<{
      method?: string | undefined;
      url?: string | undefined;
      auth?: string | undefined;
      body: string;
    }> = [];
    const connections = new Set<unknown>();
    const base = await listen(
      createHttpServer((request, response) => {
        connections.add(request.socket);
        let body = '';
        request.setEncoding('utf8');
        request.on('data', (chunk: string) => {
          body += chunk;
        });
        request.on('end', () => {
          seen.push({
            method: request.method,
            url: request.url,
            auth: request.headers.authorization,
            body,
          });
          if (request.url === '/chunked') {
            // No Content-Length: node:http frames this with chunked transfer-encoding.
            response.writeHead(201, { 'Content-Type': 'application/json' });
            response.write('{"parts":["ä€😀",');
            response.write('"two"');
            response.end(']}');
          } else {
            response.writeHead(404, { 'content-length': 2 }).end('{}');
          }
        });
      }),
    );
    const client = leanHttpClient(base);
    const chunked = await client.request('PUT', '/chunked', 'tok', '{"body":"é"}');
    expect(chunked).toEqual({ status: 201, text: '{"parts":["ä€😀","two"]}' });
    const plain = await client.request('GET', '/other');
    expect(plain).toEqual({ status: 404, text: '{}' });
    expect(seen).toEqual([
      { method: 'PUT', url: '/chunked', auth: 'Bearer tok', body: '{"body":"é"}' },
      { method: 'GET', url: '/other', auth: undefined, body: '' },
    ]);
    expect(connections.size).toBe(1);
    client.close();
  });

  it('holds one connection per concurrent request', async () => {
    const connections = new Set<unknown>();
    const base = await listen(
      createHttpServer((request, response) => {
        connections.add(request.socket);
        // Answer late, so all ten requests are in flight together.
        setTimeout(() => response.end(String(request.url?.slice(1))), 20);
      }),
    );
    const client = leanHttpClient(base);
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client.request('GET', `/${i}`)),
    );
    expect(answers.map((answer) => answer.text)).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i)),
    );
    expect(connections.size).toBe(10);
    client.close();
  });
});

describe('lean-http against raw servers', () => {
  const response =
    'HTTP/1.1 200 OK\r\nX-Long: a\r\nTransfer-Encoding: chunked\r\n\r\n' +
    '4;ext=1\r\n{"a"\r\nA\r\n:"😀bc"}\r\n0\r\nX-Trailer: t\r\n\r\n';

  it('reads a response split at every byte position, in two reads', () => {
    const bytes = Buffer.from(response);
    for (let split = 1; split < bytes.length; split++) {
      const reader = new ResponseReader();
      expect(reader.push(bytes.subarray(0, split))).toBe(false);
      expect(reader.push(bytes.subarray(split))).toBe(true);
      expect(reader.status).toBe(200);
      expect(reader.text()).toBe('{"a":"😀bc"}');
    }
  });

  it('skips an interim 100 Continue and reads the response after it', () => {
    const reader = new ResponseReader();
    expect(
      reader.push(
        Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'),
      ),
    ).toBe(true);
    expect([reader.status, reader.text()]).toEqual([200, 'ok']);
  });

  it('refuses what is not an HTTP/1.x response, with a typed error', () => {
    const cases = [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA',
    ];
    for (const bytes of cases) {
      expect(() => new ResponseReader().push(Buffer.from(bytes))).toThrow(ResponseFormatError);
    }
    expect(() => new ResponseReader().push(Buffer.alloc(70_000, 'a'))).toThrow(ResponseFormatError);
  });

  it('retries once, on a new connection, a request whose kept-alive connection the server closed', async () => {
    const requests: string[] = [];
    const { base, sockets } = await rawServer((n, socket, request) => {
      requests.push(request);
      // The second request arrives on a connection the server closes without answering.
      if (n === 1) return socket.destroy();
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${String(n).length}\r\n\r\n${n}`);
    });
    const client = leanHttpClient(base);
    expect((await client.request('GET', '/a')).text).toBe('0');
    const body = '{"txn":"t1"}';
    expect((await client.request('PUT', '/send/t1', 'tok', body)).text).toBe('2');
    expect(requests.slice(1)).toEqual([requests[1], requests[1]]);
    expect(requests[1]).toBe(
      `PUT /send/t1 HTTP/1.1\r\nHost: ${base.slice('http://'.length)}\r\nAuthorization: Bearer tok\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    expect(sockets.length).toBe(2);
    client.close();
  });

  it('surfaces a second close, and never reuses a connection the server said to close', async () => {
    const { base, sockets } = await rawServer((n, socket) => {
      if (n === 0) {
        socket.write('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx');
        socket.end();
      } else socket.destroy();
    });
    const client = leanHttpClient(base);
    expect((await client.request('GET', '/')).text).toBe('x');
    await expect(client.request('GET', '/')).rejects.toThrow(ConnectionClosedError);
    // One connection per request: the first was closed, then the request and its retry.
    expect(sockets.length).toBe(3);
  });

  it('reads a body without framing to the end of the connection', async () => {
    const { base } = await rawServer((_n, socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end');
    });
    const client = leanHttpClient(base);
    expect(await client.request('GET', '/')).toEqual({ status: 200, text: 'until the end' });
  });
});
