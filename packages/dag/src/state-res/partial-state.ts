/**
 * The partially resolved state of the iterative auth checks: entries set by the checks, over an
 * optional read-only base (the unconflicted state map in state resolution v2; none in v2.1).
 *
 * Layering avoids copying the base, which in a large room holds tens of thousands of entries
 * while the checks only touch the few keys the conflicted events need.
 */
import type { EventIndex } from '../dag/event-index.ts';
import type { StateKey } from '../event.ts';

export class PartialState {
  readonly #index: EventIndex;
  readonly #base: ReadonlyMap<StateKey, string>;
  /** Entries written by the iterative auth checks (index of the event). */
  readonly written = new Map<StateKey, number>();

  constructor(index: EventIndex, base: ReadonlyMap<StateKey, string> = new Map()) {
    this.#index = index;
    this.#base = base;
  }

  /** The event index at `key`, if any. */
  get(key: StateKey): number | undefined {
    const written = this.written.get(key);
    if (written !== undefined) return written;
    const id = this.#base.get(key);
    return id === undefined ? undefined : this.#index.intern(id);
  }

  set(key: StateKey, node: number): void {
    this.written.set(key, node);
  }
}
