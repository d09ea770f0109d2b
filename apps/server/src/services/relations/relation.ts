/**
 * The relationship an event declares (client-server-api "Forming relationships between events"):
 * `content["m.relates_to"]` with a string `rel_type` and `event_id`. Replies (`m.in_reply_to`
 * without `rel_type`) are not relations of this API; anything else malformed is ignored, as the
 * spec says of relationships that do not match the schema.
 */
export interface Relation {
  readonly relType: string;
  readonly eventId: string;
}

export function relationOf(pdu: Readonly<Record<string, unknown>>): Relation | undefined {
  const content = pdu['content'];
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return undefined;
  const relatesTo = (content as Record<string, unknown>)['m.relates_to'];
  if (typeof relatesTo !== 'object' || relatesTo === null || Array.isArray(relatesTo)) {
    return undefined;
  }
  const { rel_type: relType, event_id: eventId } = relatesTo as Record<string, unknown>;
  if (typeof relType !== 'string' || typeof eventId !== 'string') return undefined;
  if (relType === '' || !eventId.startsWith('$')) return undefined;
  return { relType, eventId };
}
