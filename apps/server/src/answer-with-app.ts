/**
 * Answers a request the HTTP thread handed over (http-thread.ts) with the Matrix app: transport's
 * `MatrixApp.answer` runs the matched endpoint straight from the bytes and headers the thread
 * read, without a fetch `Request` or `Response` (building them, a body stream and Hono's
 * dispatch were ≈ 60 µs of the main thread per send; decision record of session 11 in
 * ARCHITECTURE.md). The long-poll's client goes along as `context.env.client`
 * (api/client/sync.ts).
 */
import { CORS_HEADERS, type MatrixApp, MatrixError, matrixErrorAnswer } from '@weft/transport';

import type { BridgedRequest } from './http-thread.ts';
import type { Log } from './log.ts';

/** Answers requests with `app`. */
export function answerWithApp(
  app: Pick<MatrixApp<unknown>, 'answer'>,
  log: Log,
): (request: BridgedRequest) => Promise<void> {
  return async (request) => {
    try {
      const answer = await app.answer(
        {
          method: request.method,
          target: request.url,
          rawHeaders: request.rawHeaders,
          body: request.body,
          remoteAddress: request.remoteAddress,
        },
        { client: request.client },
      );
      request.respond(answer);
    } catch (error) {
      // The app answers every error a handler throws; this is a failure around it.
      log.error('unhandled error answering a request', { method: request.method, error });
      request.respond(matrixErrorAnswer(MatrixError.unknown(), CORS_HEADERS));
    }
  };
}
