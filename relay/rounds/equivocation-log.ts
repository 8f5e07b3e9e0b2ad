// Proven equivocations, one JSON line each, appended in the run's state folder. Each line holds
// the two signed claims, so anyone can check it against the author's key; the keys in it are
// excluded from the run, after a relay restart too.

import { appendFile, readFile } from 'node:fs/promises';
import type { EquivocationProof } from './round-frames.ts';

/** Where proven equivocations are kept: this file, or PostgreSQL for several relays (cluster/). */
export interface EquivocationRecord {
  /** Every author proven so far. */
  authors(): Promise<ReadonlySet<string>>;
  record(proof: EquivocationProof): Promise<void>;
}

export class EquivocationLog implements EquivocationRecord {
  private constructor(
    private readonly file: string,
    private readonly proven: Set<string>,
  ) {}

  async authors(): Promise<ReadonlySet<string>> {
    return this.proven;
  }

  static async open(file: string): Promise<EquivocationLog> {
    const authors = new Set<string>();
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        const author = (JSON.parse(line) as { author?: unknown }).author;
        if (typeof author === 'string') authors.add(author);
      } catch {
        // A line cut short by a crash: the proofs before it still stand.
      }
    }
    return new EquivocationLog(file, authors);
  }

  async record(proof: EquivocationProof): Promise<void> {
    this.proven.add(proof.author);
    await appendFile(this.file, `${JSON.stringify({ ...proof, recordedAt: new Date().toISOString() })}\n`);
  }
}
