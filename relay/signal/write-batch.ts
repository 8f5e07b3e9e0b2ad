// Coalesces the frames written to one socket during one turn of the event loop into one
// writev(2). A publish to a room of n reaches n sockets, and under load each socket gets
// frames from several publishers in the same poll phase; without corking every frame is a
// syscall of its own (y-webrtc's server pays that). Sockets are uncorked in setImmediate,
// i.e. right after the poll phase that produced the frames: no timer, no added wait beyond
// the current batch of I/O callbacks.
import type { Duplex } from 'node:stream';

/** What the batch needs of a connection: its socket and a flag it may own. */
export interface Corkable {
  readonly socket: Duplex;
  corked: boolean;
}

export class WriteBatch {
  #held: Corkable[] = [];
  #scheduled = false;
  readonly #flush = (): void => {
    const held = this.#held;
    this.#held = [];
    this.#scheduled = false;
    for (const item of held) {
      item.corked = false;
      // Uncorking a destroyed socket is a no-op, so dropped connections need no care here.
      item.socket.uncork();
    }
  };

  /** Corks `item`'s socket until the end of this loop turn, unless it already is. */
  hold(item: Corkable): void {
    if (item.corked) return;
    item.corked = true;
    item.socket.cork();
    this.#held.push(item);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }
}
