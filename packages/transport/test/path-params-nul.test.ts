/**
 * A path parameter holding U+0000 (`%00`) is refused with 400 `M_INVALID_PARAM` before the
 * handler runs, through both `fetch` and `answer`: PostgreSQL cannot store NUL in text, so it
 * would otherwise surface from a handler's storage as a 500.
 */
import { createMatrixApp } from '@weft/transport';
import { describe, expect, it } from 'vitest';

function makeApp() {
  const seen: Record<string, string>[] = [];
  const app = createMatrixApp<string>({});
  app.endpoint({
    method: 'PUT',
    path: '/rooms/:roomId/send/:type/:txn',
    auth: 'none',
    handler: ({ params }) => {
      seen.push({ ...params });
      return { ok: true };
    },
  });
  return { app, seen };
}

const REFUSED = [
  '/rooms/r/send/m.text/t%00',
  '/rooms/r/send/m.text/%00',
  '/rooms/r%00x/send/m.text/t',
  '/rooms/r/send/m.text%00/t',
];

describe('NUL in path parameters', () => {
  it.each(REFUSED)('refuses %s through fetch', async (target) => {
    const { app, seen } = makeApp();
    const response = await app.fetch(
      new Request(`http://localhost${target}`, { method: 'PUT', body: '{}' }),
    );
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(seen).toEqual([]);
  });

  it.each(REFUSED)('refuses %s through answer', async (target) => {
    const { app, seen } = makeApp();
    const answer = await app.answer({
      method: 'PUT',
      target,
      rawHeaders: [],
      body: new TextEncoder().encode('{}'),
    });
    expect(answer.status).toBe(400);
    const body =
      typeof answer.body === 'string' ? answer.body : new TextDecoder().decode(answer.body);
    expect(JSON.parse(body)).toMatchObject({ errcode: 'M_INVALID_PARAM' });
    expect(seen).toEqual([]);
  });

  it('still passes other escapes through decoded', async () => {
    const { app, seen } = makeApp();
    const response = await app.fetch(
      new Request('http://localhost/rooms/!r%3Ah/send/m.text/t%01%2F', {
        method: 'PUT',
        body: '{}',
      }),
    );
    expect(response.status).toBe(200);
    expect(seen).toEqual([{ roomId: '!r:h', type: 'm.text', txn: 't\u0001/' }]);
  });
});
