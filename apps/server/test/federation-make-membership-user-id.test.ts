/**
 * `make_join`, `make_leave` and `make_knock` check the user ID's grammar (spec appendices "User
 * Identifiers") before anything else: a malformed one (no colon, empty localpart) is 400
 * M_INVALID_PARAM, not a 500 from reading its server name.
 */
import { type MatrixError, matrixPath } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createPublicRoom, startFederation, type TestFederation } from './federation-harness.ts';

let federation: TestFederation;
let roomId: string;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  const alice = await federation.client('a.test').registerUser('alice');
  roomId = await createPublicRoom(federation.client('a.test'), alice);
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('make_join / make_leave / make_knock with a malformed user ID', () => {
  it('answer 400 M_INVALID_PARAM, not 500', async () => {
    const b = federation.server('b.test');
    for (const path of [
      `${matrixPath`/_matrix/federation/v1/make_join/${roomId}/nocolon`}?ver=10&ver=11`,
      matrixPath`/_matrix/federation/v1/make_leave/${roomId}/nocolon`,
      `${matrixPath`/_matrix/federation/v1/make_knock/${roomId}/nocolon`}?ver=10&ver=11`,
      `${matrixPath`/_matrix/federation/v1/make_join/${roomId}/${'@:b.test'}`}?ver=10&ver=11`,
    ]) {
      const error = (await b.services.federation.client
        .request('a.test', 'GET', path, undefined, { retry: false })
        .catch((e: unknown) => e)) as MatrixError;
      expect(error.status, path).toBe(400);
      expect(error.errcode, path).toBe('M_INVALID_PARAM');
    }
  });
});
