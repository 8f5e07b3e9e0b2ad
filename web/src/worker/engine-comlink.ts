// An engine across comlink, both ways: the round engine (kernels/round/volunteer-engine.ts) and
// the stage engine (kernels/pipeline/stage-volunteer-engine.ts) alike, every method of their
// interface without naming one, so a new method is an edit to the interface and its
// implementation only. An engine's methods are all async and take plain data, buffers and
// callbacks.
//   worker: serveEngine() hands the engine out; a method's Uint8Array result (a frame, a state
//           file) is moved to the page, not copied, so the engine must not keep it.
//   page:   remoteEngine() turns comlink's Remote back into the interface: callbacks cross as
//           comlink proxies, and the buffers `transfers` names move to the worker.
// Errors cross as comlink sends them: an Error with the thrower's name, message (which carries
// the ERR_ code) and stack.
import { type ProxyMarked, proxy, type Remote, transfer } from 'comlink';

type Method = (...args: never[]) => Promise<unknown>;

/** Per method, the buffers of its arguments the page gives away; the rest are copied. */
export type Transfers<E> = {
  readonly [K in keyof E]?: E[K] extends (...args: infer A) => Promise<unknown>
    ? (...args: A) => Transferable[]
    : never;
};

/** The worker's side: `engine` as a comlink proxy, its Uint8Array results transferred. */
export function serveEngine<E extends { [K in keyof E]: Method }>(engine: E): E & ProxyMarked {
  const served = new Proxy(engine, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        const result: unknown = await value.apply(target, args);
        return result instanceof Uint8Array ? transfer(result, [result.buffer]) : result;
      };
    },
  });
  return proxy(served);
}

/** The page's side: the worker's engine as its interface again. */
export function remoteEngine<E extends { [K in keyof E]: Method }>(
  remote: Remote<E>,
  transfers: Transfers<E> = {},
): E {
  const methods = remote as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const given = transfers as Record<string, ((...args: unknown[]) => Transferable[]) | undefined>;
  return new Proxy({} as E, {
    get(_, name) {
      // Not a thenable: an engine may be the value of an async function.
      if (typeof name !== 'string' || name === 'then') return undefined;
      return (...args: unknown[]) => {
        const moved = given[name]?.(...args) ?? [];
        const sent = args.map((arg) => (typeof arg === 'function' ? proxy(arg) : arg));
        // comlink finds a call's transfer list on one of its object arguments.
        const carrier = sent.find((arg) => typeof arg === 'object' && arg !== null);
        if (moved.length > 0) {
          if (carrier === undefined) throw new TypeError(`${name}: nothing to transfer the buffers with`);
          transfer(carrier, moved);
        }
        return methods[name]?.(...sent);
      };
    },
  });
}
