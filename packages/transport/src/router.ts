/**
 * The app's router: Hono's trie router, with its answers for fixed paths (no `:param`, no `*`)
 * kept. A long-polling client asks for the same fixed path (`/sync`) again and again, and the
 * trie's search split the path and allocated its result afresh each time (≈ 1.4 KiB and 1 µs a
 * request; decision record of session 5). Hono's faster `RegExpRouter` cannot take the client
 * API's routes (it refuses `/pushrules/:scope/:kind/:ruleId` beside `/pushrules/global/`), so
 * the trie stays for the rest.
 */
import type { Result, Router } from 'hono/router';
import { TrieRouter } from 'hono/router/trie-router';

export class FixedPathMemoRouter<T> implements Router<T> {
  readonly name = 'FixedPathMemoRouter';
  readonly #trie = new TrieRouter<T>();
  /** Method → the fixed paths registered for it. */
  readonly #fixed = new Map<string, Set<string>>();
  /** Method → fixed path → the trie's answer (read-only to Hono). */
  readonly #answers = new Map<string, Map<string, Result<T>>>();

  add(method: string, path: string, handler: T): void {
    this.#trie.add(method, path, handler);
    // Any new route may change any answer.
    this.#answers.clear();
    if (path.includes(':') || path.includes('*')) return;
    let paths = this.#fixed.get(method);
    if (paths === undefined) {
      paths = new Set();
      this.#fixed.set(method, paths);
    }
    paths.add(path);
  }

  match(method: string, path: string): Result<T> {
    const known = this.#answers.get(method)?.get(path);
    if (known !== undefined) return known;
    const result = this.#trie.match(method, path);
    // Only registered fixed paths are kept: any other path (a parameter's value, a typo) would
    // grow the map without bound.
    if (this.#fixed.get(method)?.has(path) === true) {
      let answers = this.#answers.get(method);
      if (answers === undefined) {
        answers = new Map();
        this.#answers.set(method, answers);
      }
      answers.set(path, result);
    }
    return result;
  }
}
