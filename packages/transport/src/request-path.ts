/** The path of a request URL without its query string, which may carry an access token. */
export function requestPath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    const end = url.search(/[?#]/);
    return end === -1 ? url : url.slice(0, end);
  }
}
