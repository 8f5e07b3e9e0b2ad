// What a volunteer engine's train() rejects with after abortTraining() (volunteer-engine.ts).
// A module of its own so the page's peer runtime can recognise it without loading the engine,
// and recognised by name: an error crosses comlink as its name and message, not its class.

export class TrainingAbortedError extends Error {
  override readonly name = 'TrainingAbortedError';
  constructor() {
    super('ERR_TRAINING_ABORTED: the round being trained was aborted');
  }
}

export function isTrainingAborted(error: unknown): boolean {
  return error instanceof Error && error.name === 'TrainingAbortedError';
}
