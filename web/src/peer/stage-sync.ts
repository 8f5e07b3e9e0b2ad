// The end of a pipeline step on one volunteer, once its microbatches are done: the stage's
// replicas swap their summed gradients and all step on the same sum; the last stage sends the
// head's gradient of the tied embedding to the first, whose lowest key sends the new embedding
// back after its step; then the stage's weights hash goes (signed) to the relay, which commits
// the step when every stage's replicas agree.
//
// Before stepping, every stage clips by the whole model's gradient norm, as the unsplit model
// does: each peer sends its stage's sum of squares to the relay, which hands every peer all the
// stages' once all are in (relay/pipeline/pipeline-coordinator.ts). A stage whose norms do not
// come waits; the relay's deadline then aborts the step, as for any missing frame.
import type { StageVolunteerEngine } from '../../../kernels/pipeline/stage-volunteer-engine.ts';
import { wholeModelNorm } from '../../../protocol/stage-grad-norm.ts';
import type { TensorKind } from '../../../protocol/tensor-frame.ts';
import type { PipelineEvent } from './pipeline-events.ts';
import type { StageStep } from './stage-step.ts';
import type { SwarmClient } from './swarm-client.ts';
import type { FrameNetwork } from './volunteer.ts';

export interface StageSyncDeps {
  readonly engine: StageVolunteerEngine;
  readonly network: Pick<FrameNetwork, 'send' | 'traffic'>;
  readonly client: Pick<SwarmClient, 'stageNorm' | 'stageReport'>;
  readonly peerId: string;
  readonly emit: (event: PipelineEvent) => void;
}

export async function syncStage(work: StageStep, deps: StageSyncDeps): Promise<void> {
  const { engine, network, client, peerId, emit } = deps;
  const { a, stage, S } = work;
  const step = a.step;
  const tag = a.attempt;
  const replicas = a.stages[stage] ?? [];
  const firsts = a.stages[0] ?? [];
  const lasts = a.stages[S - 1] ?? [];
  const send = (to: readonly string[], bytes: Uint8Array) =>
    Promise.all(to.filter((id) => id !== peerId).map((id) => network.send(id, bytes).catch(() => undefined)));
  const own = await engine.gradients(tag);
  work.setTensor('stage-gradients', peerId, own);
  await send(replicas, own);
  const tied = S > 1;
  if (tied && work.isLast) await send(firsts, await engine.tiedGradient(tag));
  const has = (kind: TensorKind, from: string) => work.tensor(kind, from) !== undefined;
  const get = (kind: TensorKind, ids: readonly string[]) =>
    ids.map((id) => work.tensor(kind, id) as Uint8Array);
  const inputsHere = () =>
    replicas.every((id) => has('stage-gradients', id)) &&
    (!tied || !work.isFirst || lasts.every((id) => has('tied-gradient', id)));
  if (!(await work.until(inputsHere))) return;
  const summed = await engine.sumGradients(
    tag,
    get('stage-gradients', replicas),
    tied && work.isFirst ? get('tied-gradient', lasts) : [],
  );
  if (!summed.ok) {
    emit({ type: 'status', text: `step ${step} refused a replica's frame: ${summed.error.message}` });
    return;
  }
  client.stageNorm({ step, attempt: tag, stage, sumOfSquares: summed.value });
  if (!(await work.until(() => work.stageNorms !== null))) return;
  await engine.applyStep(tag, a.learningRate, wholeModelNorm(work.stageNorms ?? []));
  if (tied && work.isFirst && firsts[0] === peerId) await send(lasts, await engine.tiedWeights(tag));
  if (tied && work.isLast) {
    const owner = firsts[0] ?? '';
    if (!(await work.until(() => has('tied-weights', owner)))) return;
    const written = await engine.setTiedWeights(tag, work.tensor('tied-weights', owner) as Uint8Array);
    if (!written.ok) {
      emit({
        type: 'status',
        text: `step ${step}: the tied embedding did not decode: ${written.error.message}`,
      });
      return;
    }
  }
  const paramsHash = await engine.paramsHash();
  if (work.aborted) return;
  work.phase = 'reported';
  await client.stageReport({
    step,
    stage,
    paramsHash,
    microbatches: work.mine.length,
    lossSum: work.isLast ? work.lossSum : null,
  });
  emit({ type: 'step', step, phase: 'reported', peers: 0 });
  emit({
    type: 'traffic',
    bytesSent: network.traffic.bytesSent,
    bytesReceived: network.traffic.bytesReceived,
  });
}
