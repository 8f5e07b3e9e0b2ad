// Who listens to which topic: `Map<topic, Set<subscriber>>`, plus each subscriber's own set of
// topics so a disconnect undoes all of them without scanning the map. An empty topic is
// deleted at once: the map's size is exactly the number of live rooms, never a history.

/** A subscriber keeps its own topics; the registry keeps both sides in step. */
export interface Subscriber {
  readonly topics: Set<string>;
}

export class TopicRegistry<S extends Subscriber> {
  readonly #topics = new Map<string, Set<S>>();

  /** Live topics (with at least one subscriber). */
  get size(): number {
    return this.#topics.size;
  }

  /** The subscribers of `topic`, or undefined when it has none. Do not modify. */
  subscribers(topic: string): ReadonlySet<S> | undefined {
    return this.#topics.get(topic);
  }

  subscribe(subscriber: S, topic: string): void {
    let set = this.#topics.get(topic);
    if (!set) {
      set = new Set();
      this.#topics.set(topic, set);
    }
    set.add(subscriber);
    subscriber.topics.add(topic);
  }

  unsubscribe(subscriber: S, topic: string): void {
    // y-webrtc's server forgets the second half and deletes no empty topic: a slow leak.
    subscriber.topics.delete(topic);
    const set = this.#topics.get(topic);
    if (!set) return;
    set.delete(subscriber);
    if (set.size === 0) this.#topics.delete(topic);
  }

  /** Removes the subscriber from all its topics (on close). Safe to call twice. */
  unsubscribeAll(subscriber: S): void {
    for (const topic of subscriber.topics) {
      const set = this.#topics.get(topic);
      if (!set) continue;
      set.delete(subscriber);
      if (set.size === 0) this.#topics.delete(topic);
    }
    subscriber.topics.clear();
  }
}
