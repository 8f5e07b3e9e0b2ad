// The compression kernels, each with the random-k hash and the shared Params struct prepended:
// WGSL has no includes, and one copy of the hash keeps GPU and CPU in step.

import accumulate from '../wgsl/compress_accumulate.wgsl?raw';
import blockCounts from '../wgsl/compress_block_counts.wgsl?raw';
import blockKeys from '../wgsl/compress_block_keys.wgsl?raw';
import blockScan from '../wgsl/compress_block_scan.wgsl?raw';
import chunkSelect from '../wgsl/compress_chunk_select.wgsl?raw';
import common from '../wgsl/compress_common.wgsl?raw';
import compact from '../wgsl/compress_compact.wgsl?raw';
import errorFeedback from '../wgsl/compress_error_feedback.wgsl?raw';
import histogram from '../wgsl/compress_histogram.wgsl?raw';
import quantize from '../wgsl/compress_quantize.wgsl?raw';
import selectBin from '../wgsl/compress_select_bin.wgsl?raw';
import stream from '../wgsl/compress_stream.wgsl?raw';
import randomKHash from '../wgsl/random_k_hash.wgsl?raw';

const withCommon = (source: string) => `${randomKHash}\n${common}\n${source}`;
// The two compaction steps that count a thread's kept keys also share that count.
const withBlockKeys = (source: string) => withCommon(`${blockKeys}\n${source}`);
// The two kernels that stream over an array, a thread per index, share their entry point.
const withStream = (source: string) => withCommon(`${stream}\n${source}`);

export const COMPRESS_SHADERS = {
  compress_accumulate: withStream(accumulate),
  compress_histogram: withCommon(histogram),
  compress_select_bin: withCommon(selectBin),
  compress_block_counts: withBlockKeys(blockCounts),
  compress_block_scan: withCommon(blockScan),
  compress_compact: withBlockKeys(compact),
  compress_chunk_select: withCommon(chunkSelect),
  compress_quantize: withCommon(quantize),
  compress_error_feedback: withStream(errorFeedback),
} as const;

export type CompressShader = keyof typeof COMPRESS_SHADERS;

export function compressShader(name: CompressShader, constants?: Readonly<Record<string, number>>) {
  return { name, source: COMPRESS_SHADERS[name], constants };
}
