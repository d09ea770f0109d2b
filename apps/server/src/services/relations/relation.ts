/**
 * The relationship an event declares (client-server-api "Forming relationships between events"):
 * `content["m.relates_to"]` with a string `rel_type` and `event_id`. Replies (`m.in_reply_to`
 * without `rel_type`) are not relations of this API; anything else malformed is ignored, as the
 * spec says of relationships that do not match the schema.
 */
import { MatrixError } from '@weft/transport';

import { isObject } from '../../json-object.ts';

export interface Relation {
  readonly relType: string;
  readonly eventId: string;
}

export function relationOf(pdu: Readonly<Record<string, unknown>>): Relation | undefined {
  const content = pdu['content'];
  if (!isObject(content)) return undefined;
  const relatesTo = (content as Record<string, unknown>)['m.relates_to'];
  if (!isObject(relatesTo)) {
    return undefined;
  }
  const { rel_type: relType, event_id: eventId } = relatesTo as Record<string, unknown>;
  if (typeof relType !== 'string' || typeof eventId !== 'string') return undefined;
  if (relType === '' || !eventId.startsWith('$')) return undefined;
  return { relType, eventId };
}

/**
 * Spec client-server-api "Threading": a thread cannot start off an event that is itself the child
 * of a relationship (one whose `m.relates_to` has a `rel_type`), and "Validation of `m.thread`
 * relationships": servers SHOULD refuse a client's attempt with 400, `M_UNKNOWN` (the spec's note:
 * no specific code exists yet). `draft` is a local event about to be built; `rootOf` finds the
 * event its `m.thread` names, in the same room, if this server has it. A redacted root has no
 * content left, so no relationship (as Synapse, which reads the redacted event); a root this
 * server does not have is not refused (the spec names no check for it).
 */
export async function refuseThreadOffRelation(
  draft: { readonly content: Readonly<Record<string, unknown>> },
  rootOf: (eventId: string) => Promise<Readonly<Record<string, unknown>> | undefined>,
): Promise<void> {
  const relation = relationOf(draft);
  if (relation?.relType !== 'm.thread') return;
  const root = await rootOf(relation.eventId);
  const relatesTo = isObject(root?.['content'])
    ? (root['content'] as Record<string, unknown>)['m.relates_to']
    : undefined;
  if (
    isObject(relatesTo) &&
    typeof (relatesTo as Record<string, unknown>)['rel_type'] === 'string'
  ) {
    throw new MatrixError(
      400,
      'M_UNKNOWN',
      'Cannot start a thread from an event that is itself a relation',
    );
  }
}

/**
 * Puts `bundle` (if any) into `served`'s `unsigned["m.relations"]` — `served` being an event in
 * the client format — keeping the rest of `unsigned`; what `/messages`, `/sync` and the other
 * event-serving endpoints do with an event's bundled aggregations.
 */
export function withRelationBundle(
  served: Record<string, unknown>,
  bundle: Record<string, unknown> | undefined,
): Record<string, unknown> {
  if (bundle !== undefined) {
    served['unsigned'] = {
      ...(served['unsigned'] as Record<string, unknown> | undefined),
      'm.relations': bundle,
    };
  }
  return served;
}
