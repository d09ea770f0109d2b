/**
 * Content reports (client-server-api "Reporting content",
 * https://spec.matrix.org/v1.19/client-server-api/#reporting-content): reports of an event, a
 * room or a user are stored in `content_reports` and logged (reporter and target, not the
 * reason) for the server's operators. The 404s are the ones report_content.yaml documents: an
 * event report needs the reporter joined to the room and the event in it and visible to them; a
 * room report a room this server has; a user report a user it knows (an account here or a
 * membership in a room here). This server does not hide them behind a 200.
 */
import { MatrixError } from '@weft/transport';

import type { ServerContext } from '../core/context.ts';
import { filterEventsForUser } from '../rooms/event-visibility.ts';
import type { RoomService } from '../rooms/index.ts';
import { membershipOf } from '../rooms/room-store.ts';
import {
  insertReport,
  type ReportRow,
  type ReportTarget,
  selectReports,
  userKnown,
} from './store.ts';

export class ReportService {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;

  constructor(ctx: ServerContext, rooms: RoomService) {
    this.#ctx = ctx;
    this.#rooms = rooms;
  }

  /** `POST /rooms/{roomId}/report/{eventId}`. */
  async reportEvent(
    reporter: string,
    roomId: string,
    eventId: string,
    reason: string | undefined,
  ): Promise<void> {
    const notFound = () =>
      MatrixError.notFound('The event was not found or you are not joined to the room');
    const { db } = this.#ctx;
    if ((await membershipOf(db, roomId, reporter))?.membership !== 'join') throw notFound();
    const event = await this.#rooms.getEvent(eventId);
    if (event === undefined || event.roomId !== roomId || event.streamPosition === null) {
      throw notFound();
    }
    if ((await filterEventsForUser(db, roomId, reporter, [event])).length === 0) throw notFound();
    await this.#store(reporter, { roomId, eventId }, reason);
  }

  /** `POST /rooms/{roomId}/report`: the reporter need not be in the room. */
  async reportRoom(reporter: string, roomId: string, reason: string): Promise<void> {
    if ((await this.#rooms.roomVersion(roomId)) === undefined) {
      throw MatrixError.notFound('The room was not found');
    }
    await this.#store(reporter, { roomId }, reason);
  }

  /** `POST /users/{userId}/report`. */
  async reportUser(reporter: string, userId: string, reason: string): Promise<void> {
    if (!(await userKnown(this.#ctx.db, userId))) {
      throw MatrixError.notFound('The user was not found');
    }
    await this.#store(reporter, { userId }, reason);
  }

  /** Every stored report, oldest first. */
  reports(): Promise<ReportRow[]> {
    return selectReports(this.#ctx.db);
  }

  async #store(reporter: string, target: ReportTarget, reason: string | undefined): Promise<void> {
    await insertReport(this.#ctx.db, reporter, target, reason, this.#ctx.now());
    this.#ctx.log.info('content reported', { reporter, ...target });
  }
}
