// What a pipeline volunteer (pipeline-volunteer.ts) tells its page or CLI as a step goes by.
import type { ActivationCodec } from '../../../protocol/activation-frame.ts';
import type { Receipt } from '../../../protocol/ledger-signatures.ts';

export type PipelineEvent =
  | { readonly type: 'status'; readonly text: string }
  | {
      readonly type: 'stage';
      readonly stage: number;
      readonly stages: number;
      readonly layers: { start: number; end: number };
    }
  | {
      readonly type: 'step';
      readonly step: number;
      readonly phase: 'microbatches' | 'sync' | 'reported' | 'committed' | 'aborted';
      /** Volunteers in the pipeline this step (0 where this phase does not say). */
      readonly peers: number;
    }
  | {
      readonly type: 'microbatch';
      readonly step: number;
      readonly microbatch: number;
      readonly loss: number | null;
      /** The codec of the activation frame this forward sent up (an AQ-SGD delta or not); null on the last stage. */
      readonly sent: ActivationCodec | null;
    }
  | { readonly type: 'committed'; readonly step: number; readonly loss: number | null }
  | { readonly type: 'receipt'; readonly receipt: Receipt }
  | { readonly type: 'traffic'; readonly bytesSent: number; readonly bytesReceived: number };
