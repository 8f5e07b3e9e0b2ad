// The engines cross comlink through one adapter (web/src/worker/engine-comlink.ts): run over a
// real MessageChannel with fake engines, every method of both interfaces returns what the engine
// returned, its arguments and callbacks arrive, Uint8Array results are moved (the worker's copy
// is detached), the round's tokens are moved to the worker, and errors keep their name, their
// code (in the message) and their stack.
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { type Endpoint, expose, type Remote, releaseProxy, wrap } from 'comlink';
import { afterEach, expect, it } from 'vitest';
import { GpuError } from '../../../kernels/gpu/errors.ts';
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import type { VolunteerEngine } from '../../../kernels/round/volunteer-engine.ts';
import { remoteEngine, serveEngine, type Transfers } from '../../../web/src/worker/engine-comlink.ts';

type Method = (...args: never[]) => Promise<unknown>;

/** Per method: the arguments to call it with, and what the fake engine answers. */
type Script<E> = {
  [K in keyof E]: E[K] extends (...args: infer A) => Promise<infer R> ? { args: A; result: R } : never;
};

const bytes = (...values: number[]) => new Uint8Array(values);

// Written out per interface: a method added to an interface is a type error here until it has a
// line, and the loop below then checks it crosses.
const ROUND: Script<VolunteerEngine> = {
  stateHash: { args: [], result: 'ab12' },
  exportState: { args: [], result: bytes(1, 2, 3) },
  importState: { args: [bytes(4, 5), 'ab12'], result: { ok: false, message: 'hash differs' } },
  train: {
    args: [
      { round: 3, seed: 9, tokens: Uint16Array.of(1, 2, 3), innerSteps: 2, learningRate: 0.01 },
      () => {},
    ],
    result: { tokens: 64, meanLoss: 5.5 },
  },
  contribute: { args: [{ round: 3, seed: 9 }], result: bytes(6, 7, 8, 9) },
  finish: {
    args: [{ round: 3, seed: 9 }, bytes(1, 5)],
    result: { hash: 'cd34' },
  },
  exportLocalState: { args: [3], result: bytes(10, 11) },
  importLocalState: { args: [bytes(10, 11)], result: true },
  commit: { args: [3, 'cd34'], result: false },
  discard: { args: [], result: undefined },
  abortTraining: { args: [], result: undefined },
  setDutyCycle: { args: [0.5], result: undefined },
  setPaused: { args: [true], result: undefined },
  destroy: { args: [], result: undefined },
};

const STAGE: Script<StageVolunteerEngine> = {
  openStage: { args: [1], result: undefined },
  forward: {
    args: [
      2,
      0,
      { tokens: Uint32Array.of(1, 2), frame: bytes(3) },
      { shardStart: 7, below: 'p0', above: null },
    ],
    result: { ok: true, value: { type: 'frame', bytes: bytes(4, 5) } },
  },
  backward: {
    args: [2, 0, bytes(6), { shardStart: 7, below: 'p0', above: null }],
    result: { ok: true, value: null },
  },
  gradients: { args: [2], result: bytes(7, 8) },
  tiedGradient: { args: [2], result: bytes(9) },
  tiedWeights: { args: [2], result: bytes(10) },
  sumGradients: { args: [2, [bytes(1)], [bytes(2)]], result: { ok: true, value: 1.5 } },
  applyStep: { args: [2, 0.01, 1.25], result: undefined },
  setTiedWeights: {
    args: [2, bytes(3)],
    result: { ok: false, error: { code: 'ERR_FRAME_FIELD', message: 'step 1, expected 2' } },
  },
  paramsHash: { args: [], result: 'ef56' },
  exportState: { args: [2], result: bytes(11, 12, 13) },
  importState: { args: [2, bytes(11, 12, 13)], result: { ok: true, value: undefined } },
  commit: { args: [], result: undefined },
  rollback: { args: [], result: undefined },
  destroy: { args: [], result: undefined },
};

interface Call {
  readonly method: string;
  readonly args: unknown[];
  /** What the engine returned, as it holds it after the call crossed. */
  readonly result: unknown;
}

/** An engine that answers from `script`, calls back each callback with its method's name, and logs. */
function fakeEngine<E>(script: Script<E>, calls: Call[]): E {
  const engine: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [method, { result }] of Object.entries(script) as [string, { result: unknown }][]) {
    engine[method] = async (...args) => {
      for (const arg of args) if (typeof arg === 'function') await arg(method);
      const answer = structuredClone(result);
      calls.push({ method, args, result: answer });
      return answer;
    };
  }
  return engine as E;
}

const ports: MessagePort[] = [];
const released: (() => void)[] = [];
afterEach(() => {
  for (const release of released.splice(0)) release();
  for (const port of ports.splice(0)) port.close();
});

/** The worker's API over a real channel, as the page's wrap() sees it. */
function overChannel<E extends { [K in keyof E]: Method }>(engine: E, transfers: Transfers<E> = {}) {
  const { port1, port2 } = new MessageChannel();
  ports.push(port1, port2);
  expose({ create: async () => serveEngine(engine) }, port1 as unknown as Endpoint);
  const api = wrap<{ create(): Promise<E> }>(port2 as unknown as Endpoint);
  released.push(() => api[releaseProxy]());
  return async () => remoteEngine<E>((await api.create()) as Remote<E>, transfers);
}

/** Arguments as they must arrive: callbacks stand as 'function'. */
const shape = (args: readonly unknown[]) => args.map((a) => (typeof a === 'function' ? 'function' : a));

async function crossesEveryMethod<E extends { [K in keyof E]: Method }>(
  script: Script<E>,
  transfers: Transfers<E> = {},
) {
  const calls: Call[] = [];
  const engine = await overChannel(fakeEngine(script, calls), transfers)();
  const entries = Object.entries(script) as [string, { args: unknown[]; result: unknown }][];
  for (const [method, { args, result }] of entries) {
    const sent = structuredClone(args.map((a) => (typeof a === 'function' ? null : a)));
    const calledBack: unknown[] = [];
    const given = args.map((a, i) =>
      typeof a === 'function' ? (x: unknown) => calledBack.push(x) : sent[i],
    );
    const answer = await (engine as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[
      method
    ]?.(...given);
    expect(answer, method).toEqual(result);
    const call = calls.at(-1) as Call;
    expect(call.method).toBe(method);
    expect(shape(call.args), method).toEqual(shape(args));
    expect(calledBack, method).toEqual(args.some((a) => typeof a === 'function') ? [method] : []);
    // A Uint8Array result is moved to the page: the engine's own copy is detached.
    if (result instanceof Uint8Array) expect((call.result as Uint8Array).byteLength, method).toBe(0);
  }
  expect(calls.map((c) => c.method)).toEqual(entries.map(([method]) => method));
  return { engine, calls };
}

it('carries every method of the round engine, moving its frames and state files', async () => {
  const { engine, calls } = await crossesEveryMethod(ROUND, { train: (work) => [work.tokens.buffer] });

  // The round's tokens move to the worker; a state file the page imports is copied (it keeps it).
  const work = { round: 4, seed: 1, tokens: Uint16Array.of(5, 6, 7), innerSteps: 1, learningRate: 0.1 };
  await engine.train(work);
  expect(work.tokens.byteLength).toBe(0);
  expect(((calls.at(-1) as Call).args[0] as typeof work).tokens).toEqual(Uint16Array.of(5, 6, 7));
  const state = bytes(1, 2);
  await engine.importState(state, 'ab12');
  expect(state).toEqual(bytes(1, 2));
});

it('carries every method of the stage engine, moving its frames', async () => {
  await crossesEveryMethod(STAGE);
});

it('keeps an error’s name, code and stack', async () => {
  const calls: Call[] = [];
  const fake = fakeEngine(ROUND, calls);
  fake.commit = async () => {
    throw new GpuError('ERR_DEVICE_LOST', 'the device went away');
  };
  fake.setDutyCycle = async (d) => {
    throw new RangeError(`duty cycle must be in (0, 1], got ${d}`);
  };
  const engine = await overChannel(fake)();
  const lost = await engine.commit(1, 'x').catch((error: unknown) => error);
  expect(lost).toBeInstanceOf(Error);
  expect(lost).toMatchObject({ name: 'GpuError', message: 'ERR_DEVICE_LOST: the device went away' });
  expect((lost as Error).stack).toContain('ERR_DEVICE_LOST');
  await expect(engine.setDutyCycle(0)).rejects.toMatchObject({
    name: 'RangeError',
    message: 'duty cycle must be in (0, 1], got 0',
  });
});

it('is no thenable, so an async function can return it', async () => {
  const engine = await overChannel(fakeEngine(STAGE, []))();
  expect((engine as unknown as { then?: unknown }).then).toBeUndefined();
  const returned = await (async () => engine)();
  expect(await returned.paramsHash()).toBe('ef56');
});
