/**
 * Mainline ordering (spec rooms/fragments/v2-state-res.md "Mainline ordering").
 */
import type { ResolveContext } from './context.ts';

const INFINITE = Number.POSITIVE_INFINITY;

/**
 * The `m.room.power_levels` event among the auth events of `node`, or -1. (A valid event cites
 * at most one; with several, the first is used.)
 */
function powerLevelsAuthOf(context: ResolveContext, node: number): number {
  const { index } = context;
  for (const auth of index.authOf(node)) {
    const event = index.events[auth];
    if (event !== undefined && event.type === 'm.room.power_levels' && event.state_key === '') {
      return auth;
    }
  }
  return -1;
}

/**
 * Sorts `nodes` by the mainline ordering based on the power-levels event `powerLevels` (an index,
 * or `undefined` when the partially resolved state has none: every position is then ∞).
 *
 * Positions are memoised per power-levels event, so each event of a power-levels chain is walked
 * once in total: O(n log n) for the sort plus O(length of the chains).
 */
export function mainlineOrder(
  context: ResolveContext,
  nodes: readonly number[],
  powerLevels: number | undefined,
): number[] {
  // The mainline of P: P₀ = P, Pᵢ₊₁ = the power-levels event among Pᵢ's auth events.
  const mainline = new Map<number, number>();
  for (let p = powerLevels ?? -1, i = 0; p !== -1 && !mainline.has(p); i += 1) {
    mainline.set(p, i);
    p = powerLevelsAuthOf(context, p);
  }
  // Position of a power-levels event e_j: its mainline index, or that of the first mainline
  // event above it.
  const memo = new Map<number, number>();
  const positionFrom = (first: number): number => {
    const path: number[] = [];
    const onPath = new Set<number>();
    let position = INFINITE;
    for (let e = first; e !== -1; e = powerLevelsAuthOf(context, e)) {
      const onMainline = mainline.get(e);
      if (onMainline !== undefined) {
        position = onMainline;
        break;
      }
      const known = memo.get(e);
      if (known !== undefined) {
        position = known;
        break;
      }
      if (onPath.has(e)) break; // a cycle among power-levels events: no mainline event above
      onPath.add(e);
      path.push(e);
    }
    for (const e of path) memo.set(e, position);
    return position;
  };
  const { events, ids } = context.index;
  const position = new Map<number, number>();
  // The event itself is not part of its own list (e₀ is excluded; j ≥ 1).
  for (const node of nodes) {
    const first = powerLevelsAuthOf(context, node);
    position.set(node, first === -1 ? INFINITE : positionFrom(first));
  }
  return [...nodes].sort((a, b) => {
    const pa = position.get(a) as number;
    const pb = position.get(b) as number;
    // x < y when x's mainline position is greater.
    if (pa !== pb) return pa > pb ? -1 : 1;
    const ta = events[a]?.origin_server_ts ?? 0;
    const tb = events[b]?.origin_server_ts ?? 0;
    if (ta !== tb) return ta < tb ? -1 : 1;
    const ia = ids[a] as string;
    const ib = ids[b] as string;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  });
}
