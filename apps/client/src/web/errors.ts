/**
 * Failures of the local web API as Matrix-style error bodies (`{ errcode, error }`), so the page
 * handles them one way. Bad input from the page is a 4xx; a homeserver that cannot be reached or
 * fails is a 502; messages carry IDs only, as the SDK's do.
 */
import { ClientError } from '../errors.ts';

/** A refusal of the web API itself (bad input, wrong state). */
export class WebError extends Error {
  readonly status: number;
  readonly errcode: string;

  constructor(status: number, errcode: string, message: string) {
    super(message);
    this.name = 'WebError';
    this.status = status;
    this.errcode = errcode;
  }
}

export interface ErrorResponse {
  readonly status: number;
  readonly body: { readonly errcode: string; readonly error: string };
}

const CLIENT_ERRORS: Partial<Record<ClientError['code'], [number, string]>> = {
  'not-logged-in': [401, 'M_UNAUTHORIZED'],
  'unknown-room': [404, 'M_NOT_FOUND'],
  'registration-failed': [403, 'M_FORBIDDEN'],
  'wrong-passphrase': [403, 'M_FORBIDDEN'],
  'send-failed': [400, 'M_FORBIDDEN'],
};

/** Turns anything thrown while handling a request into a response. */
export function errorResponse(error: unknown): ErrorResponse {
  if (error instanceof WebError)
    return { status: error.status, body: { errcode: error.errcode, error: error.message } };
  if (ClientError.isInstance(error)) {
    const [status, errcode] = CLIENT_ERRORS[error.code] ?? [502, 'M_UNKNOWN'];
    return { status, body: { errcode, error: `${error.code}: ${error.message}` } };
  }
  // The homeserver's own refusal (a MatrixError from @weft/transport): pass its 4xx on.
  if (typeof error === 'object' && error !== null && 'errcode' in error && 'status' in error) {
    const { errcode, status } = error as { errcode: unknown; status: unknown };
    if (typeof errcode === 'string' && typeof status === 'number' && status >= 400 && status < 500)
      return { status, body: { errcode, error: `the homeserver refused: ${errcode}` } };
  }
  return {
    status: 502,
    body: { errcode: 'M_UNKNOWN', error: 'the homeserver could not be reached or failed' },
  };
}
