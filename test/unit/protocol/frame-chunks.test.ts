// Messages cut into data-channel chunks come back whole in any arrival order, interleaved
// with other messages; hostile chunks are refused without throwing or over-allocating.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_COUNT_OFFSET,
  CHUNK_HEADER_BYTES,
  CHUNK_INDEX_OFFSET,
  CHUNK_RESERVED_OFFSET,
  ChunkAssembler,
  MAX_CHUNK_BYTES,
  MIN_STRIDE,
  STRIDE_OFFSET,
  splitIntoChunks,
  TOTAL_BYTES_OFFSET,
} from '../../../protocol/frame-chunks.ts';

function message(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.imul(i + seed, 0x9e3779b1) >>> 24;
  return bytes;
}

/** Byte equality without vitest's element-by-element diffing, which is slow on 100 KB. */
function same(a: Uint8Array | null | undefined, b: Uint8Array): boolean {
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

describe('frame chunks', () => {
  it('reassembles messages of any size from chunks in any order, interleaved', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 100 * 1024 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: CHUNK_HEADER_BYTES + MIN_STRIDE, max: MAX_CHUNK_BYTES }),
        fc.nat(),
        (sizes, chunkBytes, seed) => {
          const messages = sizes.map((size, id) => message(size, seed + id));
          const chunks = messages.flatMap((m, id) => splitIntoChunks(id, m, chunkBytes));
          expect(chunks.every((chunk) => chunk.length <= chunkBytes)).toBe(true);
          // A deterministic shuffle from the seed.
          const order = chunks
            .map((c, i) => ({ c, key: Math.imul(i + 1, 0x85ebca6b) ^ seed }))
            .sort((a, b) => a.key - b.key);
          const assembler = new ChunkAssembler({ maxChunkBytes: chunkBytes });
          const done = new Map<number, Uint8Array>();
          for (const { c } of order) {
            const result = assembler.push(c);
            if (result.status === 'refused') throw new Error(result.error.message);
            if (result.status === 'complete') done.set(result.messageId, result.bytes);
          }
          expect(done.size).toBe(messages.length);
          for (const [id, m] of messages.entries()) expect(same(done.get(id), m)).toBe(true);
          expect(assembler.pendingBytes).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('sends an empty message as one chunk', () => {
    const chunks = splitIntoChunks(9, new Uint8Array(0));
    expect(chunks).toHaveLength(1);
    expect(new ChunkAssembler().push(chunks[0] as Uint8Array)).toMatchObject({
      status: 'complete',
      messageId: 9,
      bytes: new Uint8Array(0),
    });
  });

  it('never throws on hostile chunks, and other messages survive them', () => {
    const good = message(50_000, 1);
    const goodChunks = splitIntoChunks(1, good);
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.nat(),
        (garbage, flip) => {
          const assembler = new ChunkAssembler();
          let completed: Uint8Array | null = null;
          const feed = (chunk: Uint8Array) => {
            const r = assembler.push(chunk);
            if (r.status === 'complete' && r.messageId === 1 && r.bytes.length === good.length)
              completed = r.bytes;
          };
          feed(goodChunks[0] as Uint8Array);
          for (const g of garbage) feed(g);
          // A corrupted copy of a real chunk: any header bit flipped.
          const tampered = (goodChunks[1] as Uint8Array).slice();
          const bit = flip % (CHUNK_HEADER_BYTES * 8);
          tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7));
          feed(tampered);
          for (const chunk of goodChunks.slice(1)) feed(chunk);
          expect(same(completed, good)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a message above the cap before allocating it', () => {
    const chunk = splitIntoChunks(3, message(20_000, 2))[0] as Uint8Array;
    new DataView(chunk.buffer).setUint32(TOTAL_BYTES_OFFSET, 0xffffffff, true);
    const assembler = new ChunkAssembler();
    expect(assembler.push(chunk)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_TOO_LARGE' },
    });
    expect(assembler.pendingBytes).toBe(0);
  });

  it("refuses the first chunk of a message above a run's cap, and takes one of exactly the cap", () => {
    // A run whose frames are at most 100,000 bytes; a peer announces 64 MiB in a first chunk
    // that is otherwise honest: an assembler with the global cap would hold 64 MiB for it.
    const cap = 100_000;
    const announced = 2 ** 26;
    const first = splitIntoChunks(1, message(20_000, 3))[0] as Uint8Array;
    const view = new DataView(first.buffer);
    view.setUint32(TOTAL_BYTES_OFFSET, announced, true);
    view.setUint32(CHUNK_COUNT_OFFSET, Math.ceil(announced / view.getUint32(STRIDE_OFFSET, true)), true);
    const global = new ChunkAssembler();
    expect(global.push(first)).toEqual({ status: 'partial' });
    expect(global.pendingBytes).toBeGreaterThan(announced);

    const assembler = new ChunkAssembler({ maxMessageBytes: cap });
    expect(assembler.push(first)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_TOO_LARGE', message: `a ${announced}-byte message exceeds ${cap}` },
    });
    expect(assembler.pendingBytes).toBe(0);
    expect(assembler.pendingMessages).toBe(0);
    // One byte over is refused as well; exactly the cap goes through whole.
    expect(assembler.push(splitIntoChunks(2, message(cap + 1, 4))[0] as Uint8Array)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_TOO_LARGE' },
    });
    const honest = message(cap, 5);
    const results = splitIntoChunks(3, honest).map((chunk) => assembler.push(chunk));
    const last = results.pop();
    expect(results.every((result) => result.status === 'partial')).toBe(true);
    expect(last?.status).toBe('complete');
    expect(last?.status === 'complete' && same(last.bytes, honest)).toBe(true);
  });

  it('refuses a chunk whose reserved bytes are not zero', () => {
    const chunk = splitIntoChunks(5, message(40_000, 1))[0] as Uint8Array;
    chunk[CHUNK_RESERVED_OFFSET + 2] = 0xff;
    expect(new ChunkAssembler().push(chunk)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_HEADER', message: 'reserved bytes are not zero' },
    });
  });

  it('refuses strides too small to be honest or too large to ever complete, before allocating', () => {
    const header = (stride: number, total: number) => {
      const chunk = new Uint8Array(CHUNK_HEADER_BYTES + 1);
      chunk.set(splitIntoChunks(7, message(40_000, 1))[0]?.subarray(0, CHUNK_HEADER_BYTES) as Uint8Array);
      const view = new DataView(chunk.buffer);
      view.setUint32(TOTAL_BYTES_OFFSET, total, true);
      view.setUint32(STRIDE_OFFSET, stride, true);
      view.setUint32(CHUNK_COUNT_OFFSET, Math.ceil(total / stride), true);
      view.setUint32(CHUNK_INDEX_OFFSET, Math.ceil(total / stride) - 1, true);
      return chunk;
    };
    const assembler = new ChunkAssembler();
    // 64 MiB in 1-byte strides: 64 Mi chunks, and as many flags held for them.
    expect(assembler.push(header(1, 64 * 2 ** 20))).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_HEADER' },
    });
    expect(assembler.push(header(MIN_STRIDE - 1, 10 * MIN_STRIDE))).toMatchObject({ status: 'refused' });
    expect(assembler.push(header(MAX_CHUNK_BYTES, 4 * MAX_CHUNK_BYTES))).toMatchObject({ status: 'refused' });
    expect(assembler.pendingBytes).toBe(0);
  });

  it('refuses oversized chunks, duplicates, and a backlog past its caps', () => {
    const assembler = new ChunkAssembler({ maxPendingMessages: 2, maxPendingBytes: 1_000_000 });
    expect(assembler.push(new Uint8Array(MAX_CHUNK_BYTES + 1))).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_TOO_LARGE' },
    });
    const first = splitIntoChunks(1, message(40_000, 1));
    expect(assembler.push(first[0] as Uint8Array).status).toBe('partial');
    expect(assembler.push(first[0] as Uint8Array)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_DUPLICATE' },
    });
    expect(assembler.push(splitIntoChunks(2, message(40_000, 2))[0] as Uint8Array).status).toBe('partial');
    expect(assembler.push(splitIntoChunks(3, message(40_000, 3))[0] as Uint8Array)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_BACKLOG' },
    });
    expect(assembler.pendingMessages).toBe(2);
    // Each message holds its bytes and a flag for each of its 3 chunks.
    expect(assembler.pendingBytes).toBe(80_006);
    assembler.drop(2);
    expect(assembler.pendingBytes).toBe(40_003);
    const bytes = new ChunkAssembler({ maxPendingBytes: 50_000 });
    bytes.push(splitIntoChunks(1, message(40_000, 1))[0] as Uint8Array);
    expect(bytes.push(splitIntoChunks(2, message(40_000, 2))[0] as Uint8Array)).toMatchObject({
      status: 'refused',
      error: { code: 'ERR_CHUNK_BACKLOG' },
    });
  });
});
