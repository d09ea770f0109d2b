/**
 * Builds a request path with each interpolated value percent-encoded as one path segment, so a
 * room ID like `!abc:example.org` or an event type containing `/` cannot change the path's shape:
 * ``matrixPath`/_matrix/client/v3/rooms/${roomId}/state/${type}` ``.
 */
export function matrixPath(strings: TemplateStringsArray, ...values: readonly string[]): string {
  let path = strings[0] ?? '';
  values.forEach((value, index) => {
    if (typeof value !== 'string') throw new TypeError('matrixPath values must be strings');
    path += encodeURIComponent(value) + (strings[index + 1] ?? '');
  });
  return path;
}
