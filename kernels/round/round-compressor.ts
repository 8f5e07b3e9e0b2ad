// What a round needs of its compressor (round-peer.ts): the GPU compressor in the product, or a
// variant the swarm benchmark measures before it earns a GPU kernel.
import type { GpuCompressor } from '../compress/gpu-compressor.ts';

export type RoundCompressor = Pick<GpuCompressor, 'setStart' | 'compress' | 'applyErrorFeedback'>;
