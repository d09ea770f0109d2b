/**
 * The app's router (src/router.ts): the answers it keeps for fixed paths are the trie's, and a
 * route added later is seen.
 */
import { TrieRouter } from 'hono/router/trie-router';
import { describe, expect, it } from 'vitest';

import { FixedPathMemoRouter } from '../src/router.ts';

const ROUTES: [string, string, string][] = [
  ['GET', '/sync', 'sync'],
  ['GET', '/rooms/:roomId/messages', 'messages'],
  ['PUT', '/rooms/:roomId/send/:type/:txnId', 'send'],
  ['GET', '/pushrules/global/', 'global rules'],
  ['GET', '/pushrules/:scope/:kind/:ruleId', 'rule'],
  ['OPTIONS', '*', 'preflight'],
];

const REQUESTS: [string, string][] = [
  ['GET', '/sync'],
  ['GET', '/sync/'],
  ['POST', '/sync'],
  ['OPTIONS', '/sync'],
  ['GET', '/rooms/!a:x/messages'],
  ['PUT', '/rooms/!a:x/send/m.room.message/t1'],
  ['GET', '/pushrules/global/'],
  ['GET', '/pushrules/global/override/.m.rule.master'],
  ['GET', '/nowhere'],
];

function routers() {
  const trie = new TrieRouter<string>();
  const memo = new FixedPathMemoRouter<string>();
  for (const [method, path, handler] of ROUTES) {
    trie.add(method, path, handler);
    memo.add(method, path, handler);
  }
  return { trie, memo };
}

describe('FixedPathMemoRouter', () => {
  it('answers every request as the trie does, the first time and again', () => {
    const { trie, memo } = routers();
    for (let round = 0; round < 3; round++) {
      for (const [method, path] of REQUESTS) {
        expect(memo.match(method, path), `${method} ${path}`).toEqual(trie.match(method, path));
      }
    }
    expect(memo.match('GET', '/sync')[0].map(([handler]) => handler)).toEqual(['sync']);
  });

  it('sees a route added after a fixed path was answered', () => {
    const { memo } = routers();
    expect(memo.match('GET', '/sync')[0].map(([handler]) => handler)).toEqual(['sync']);
    memo.add('ALL', '*', 'everything');
    memo.add('GET', '/sync', 'second');
    expect(memo.match('GET', '/sync')[0].map(([handler]) => handler)).toEqual([
      'sync',
      'everything',
      'second',
    ]);
  });
});
