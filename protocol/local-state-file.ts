// A volunteer's own state, the part no other peer shares: the inner AdamW moments and step
// count, and the error-feedback residual (what earlier rounds did not send). It is not part of
// the model hash. Keeping it across a reload means the next round continues the same optimizer
// and sends what was owed, instead of starting cold and dropping it. It leaves the machine only
// when the relay checks a round's work (relay/rounds/work-check.ts): the round's starting state,
// committed by hash in the manifest, lets the relay redo the round and compare frames.
import { decodeSafetensors, encodeSafetensors } from './safetensors.ts';

export interface LocalState {
  readonly m: Float32Array;
  readonly v: Float32Array;
  readonly residual: Float32Array;
  /** AdamW steps taken so far (its bias correction depends on it). */
  readonly step: number;
  /** The committed round this state follows. */
  readonly round: number;
}

const NAMES = { m: 'adamw.m', v: 'adamw.v', residual: 'compress.residual' } as const;

export function encodeLocalState(state: LocalState): Uint8Array {
  const tensor = (name: string, data: Float32Array) => ({
    name,
    dtype: 'F32' as const,
    shape: [data.length],
    data,
  });
  return encodeSafetensors(
    [tensor(NAMES.m, state.m), tensor(NAMES.v, state.v), tensor(NAMES.residual, state.residual)],
    { format: 'potluck-local-state', step: String(state.step), round: String(state.round) },
  );
}

/** Reads a local state of `n` floats per tensor; null for anything else. Never throws. */
export function decodeLocalState(bytes: Uint8Array, n: number): LocalState | null {
  const decoded = decodeSafetensors(bytes);
  if (!decoded.ok || decoded.metadata.get('format') !== 'potluck-local-state') return null;
  const read = (name: string) => {
    const t = decoded.tensors.get(name);
    return t && t.data instanceof Float32Array && t.data.length === n ? t.data : null;
  };
  const m = read(NAMES.m);
  const v = read(NAMES.v);
  const residual = read(NAMES.residual);
  const step = Number(decoded.metadata.get('step'));
  const round = Number(decoded.metadata.get('round'));
  if (!m || !v || !residual || !Number.isSafeInteger(step) || step < 0 || !Number.isSafeInteger(round))
    return null;
  return { m, v, residual, step, round };
}
