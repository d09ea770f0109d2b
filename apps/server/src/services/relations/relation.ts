/**
 * The relationship an event declares (client-server-api "Forming relationships between events"):
 * `content["m.relates_to"]` with a string `rel_type` and `event_id`. Replies (`m.in_reply_to`
 * without `rel_type`) are not relations of this API; anything else malformed is ignored, as the
 * spec says of relationships that do not match the schema.
 */
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
