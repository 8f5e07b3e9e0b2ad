// Whether a GET's If-None-Match names the representation we hold (RFC 9110, section 13.1.2):
// "*" matches any current representation, otherwise one of the listed entity tags must match
// ours by the weak comparison (section 8.8.3.2: W/"x" and "x" are the same tag). A header that
// does not parse as that list matches nothing, so the client gets the full answer.

/** One entity tag (optionally weak) in a comma-separated list, with the spaces around it. */
const ENTITY_TAG = /^[ \t]*(?:W\/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*(?:,|$)/;

/** Whether `header` (If-None-Match, absent when undefined) matches `etag` (a strong tag, quoted). */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  let rest = header;
  while (rest.trim() !== '') {
    const tag = ENTITY_TAG.exec(rest);
    if (!tag) return false;
    if (tag[1] === etag) return true;
    rest = rest.slice(tag[0].length);
  }
  return false;
}
