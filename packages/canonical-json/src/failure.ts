/**
 * Internal failure signal. The encoder and parser throw a `Failure` deep inside the recursion;
 * each enclosing container adds its own path segment as the failure unwinds, so the success
 * path never pays for tracking where it is. The public entry points turn it into a
 * {@link CanonicalJsonError}.
 */
import { CanonicalJsonError, type CanonicalJsonErrorCode } from './errors.ts';
import { formatPath, type PathSegment } from './path.ts';

export class Failure {
  /** Mutable so the encoder can re-classify runaway depth as a cycle. */
  code: CanonicalJsonErrorCode;
  detail: string;
  /** Offset of the problem; the parser rewrites it from UTF-16 units to bytes for byte input. */
  position: number | undefined;
  /** Innermost segment first (pushed while unwinding). */
  readonly segments: PathSegment[] = [];

  constructor(code: CanonicalJsonErrorCode, detail: string, position?: number) {
    this.code = code;
    this.detail = detail;
    this.position = position;
  }

  toError(): CanonicalJsonError {
    const path = formatPath(this.segments.slice().reverse());
    return this.position === undefined
      ? new CanonicalJsonError(this.code, this.detail, { path })
      : new CanonicalJsonError(this.code, this.detail, { path, position: this.position });
  }
}
