/**
 * @weft/transport: Matrix over HTTP. Standard error responses, a Hono app factory (CORS, body
 * limits, strict JSON, access tokens, rate limits, 404/405), X-Matrix request signing and
 * verification, and a retrying `fetch` client.
 *
 * The whole public API is this list.
 */
export { type AccessTokenOptions, constantTimeEqual, extractAccessToken } from './access-token.ts';
export {
  type AuthMode,
  type BodyMode,
  createMatrixApp,
  type EndpointDefinition,
  type EndpointMethod,
  type EndpointRequest,
  type EndpointResult,
  type FederationOptions,
  jsonResponse,
  type MatrixApp,
  type MatrixAppOptions,
  type PlainAnswer,
  type PlainRequest,
  type RequestIdentity,
} from './app.ts';
export {
  DEFAULT_MAX_BODY_BYTES,
  type JsonBodyOptions,
  parseJsonBody,
  readBodyBytes,
  readLimitedChunks,
} from './body.ts';
export {
  type FederationSigner,
  MatrixHttpClient,
  type MatrixHttpClientOptions,
  type MatrixRequest,
  type QueryValue,
} from './client.ts';
export { clientAddressKey } from './client-address.ts';
export { CORS_HEADERS } from './cors.ts';
export {
  matrixErrorAnswer,
  matrixErrorHandler,
  matrixErrorResponse,
  toMatrixError,
} from './error-handler.ts';
export { TransportError, type TransportErrorCode, type TransportErrorOptions } from './errors.ts';
export type { HeaderLookup } from './header-object.ts';
export type { LogContext, Logger } from './logger.ts';
export {
  ErrCode,
  type KnownErrCode,
  MatrixError,
  type MatrixErrorBody,
  type MatrixErrorOptions,
} from './matrix-error.ts';
export { matrixPath } from './path.ts';
export {
  type RateLimitDecision,
  type TokenBucketOptions,
  TokenBucketRateLimiter,
} from './rate-limit.ts';
export { backoffDelay, parseRetryAfter, type RetryOptions, type RetryPolicy } from './retry.ts';
export {
  buildRequestJson,
  type ReceivedRequest,
  type ServerKeyLookup,
  signRequest,
  verifyRequest,
  type XMatrixFailure,
  type XMatrixRequest,
  type XMatrixVerification,
} from './x-matrix.ts';
export { formatXMatrixHeader, parseXMatrixHeader, type XMatrixParams } from './x-matrix-header.ts';
export {
  type XMatrixMiddlewareOptions,
  type XMatrixVariables,
  xMatrixMiddleware,
} from './x-matrix-middleware.ts';
