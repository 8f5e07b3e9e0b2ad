// fetch for a simulated volunteer of bench:scale, counting what it sends and receives over
// HTTP: request and response bodies, with token downloads and state files kept apart (they are
// not the round's traffic). Each request says which simulated address it comes from, so the
// relays' per-address limits see 3,000 volunteers, not one host.
export interface Counter {
  sent: number;
  received: number;
  tokens: number;
  state: number;
}

export function newCounter(): Counter {
  return { sent: 0, received: 0, tokens: 0, state: 0 };
}

/** `address`: the volunteer's, sent as the x-forwarded-for the bench's relays trust, as its socket's is. */
export function countingFetch(counter: Counter, address: string): typeof fetch {
  return async (input, init) => {
    const body = init?.body;
    if (body instanceof Uint8Array) counter.sent += body.byteLength;
    const headers = new Headers(init?.headers);
    headers.set('x-forwarded-for', address);
    const response = await fetch(input, { ...init, headers });
    const url = String(input);
    const length = Number(response.headers.get('content-length') ?? 0);
    if (url.includes('/shards/')) counter.tokens += length;
    else if (url.endsWith('/checkpoint') || url.includes('/state/')) counter.state += length;
    else counter.received += length;
    return response;
  };
}
