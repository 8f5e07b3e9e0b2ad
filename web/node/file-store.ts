// The headless volunteer's memory between runs, in a folder: its Ed25519 key (PKCS#8, mode
// 0600) and its proof-of-work stamp for each run (`<run>.stamp`), the last committed state of
// each run it trained (so a restart resumes without downloading the weights again), every
// credit receipt (one JSON line each) and the newest signed ledger head it has seen. Writes go
// to a temporary file and are renamed, so a crash never leaves half a state.
import { appendFile, chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Receipt } from '../../protocol/ledger-signatures.ts';
import type { SeenHead } from '../src/peer/head-watch.ts';
import { generateKeyPair, type StoredKeyPair } from '../src/peer/identity.ts';
import type { StampStore } from '../src/peer/kept-stamp.ts';
import type { VolunteerStore } from '../src/peer/volunteer.ts';

export class FileVolunteerStore implements VolunteerStore, StampStore {
  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<FileVolunteerStore> {
    await mkdir(dir, { recursive: true });
    return new FileVolunteerStore(dir);
  }

  /** The volunteer's key pair, made on first use and kept. */
  async keyPair(): Promise<StoredKeyPair> {
    const file = join(this.dir, 'identity.pkcs8');
    const saved = await readFile(file).catch(() => null);
    if (saved) {
      const privateKey = await crypto.subtle.importKey('pkcs8', saved, { name: 'Ed25519' }, true, ['sign']);
      const { x } = await crypto.subtle.exportKey('jwk', privateKey);
      const publicKey = await crypto.subtle.importKey(
        'raw',
        Buffer.from(x ?? '', 'base64url'),
        { name: 'Ed25519' },
        true,
        ['verify'],
      );
      return { privateKey, publicKey };
    }
    const pair = await generateKeyPair(true);
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    await writeAtomically(file, pkcs8);
    await chmod(file, 0o600);
    return pair;
  }

  async loadStamp(runId: string): Promise<string | null> {
    return (await readFile(join(this.dir, `${runId}.stamp`), 'utf8').catch(() => null))?.trim() || null;
  }

  async saveStamp(runId: string, stamp: string): Promise<void> {
    await writeAtomically(join(this.dir, `${runId}.stamp`), new TextEncoder().encode(stamp));
  }

  async loadState(runId: string) {
    const meta = await readFile(join(this.dir, `${runId}.json`), 'utf8').catch(() => null);
    if (!meta) return null;
    const { round, hash } = JSON.parse(meta) as { round: number; hash: string };
    const bytes = await readFile(join(this.dir, `${runId}.safetensors`)).catch(() => null);
    return bytes ? { round, hash, bytes: new Uint8Array(bytes) } : null;
  }

  async saveState(runId: string, round: number, hash: string, bytes: Uint8Array): Promise<void> {
    // The state first, then the note that names it: a crash between the two leaves an older
    // note whose hash the state no longer has, which importState refuses, so nothing is trusted wrongly.
    await writeAtomically(join(this.dir, `${runId}.safetensors`), bytes);
    await writeAtomically(
      join(this.dir, `${runId}.json`),
      new TextEncoder().encode(JSON.stringify({ round, hash })),
    );
  }

  async loadLocal(runId: string): Promise<Uint8Array | null> {
    const bytes = await readFile(join(this.dir, `${runId}.local.safetensors`)).catch(() => null);
    return bytes ? new Uint8Array(bytes) : null;
  }

  async saveLocal(runId: string, bytes: Uint8Array): Promise<void> {
    await writeAtomically(join(this.dir, `${runId}.local.safetensors`), bytes);
  }

  async loadRoundStart(runId: string): Promise<{ round: number; bytes: Uint8Array } | null> {
    const file = join(this.dir, `${runId}.round-start.safetensors`);
    const bytes = await readFile(file).catch(() => null);
    const round = Number(await readFile(`${file}.round`, 'utf8').catch(() => 'NaN'));
    return bytes && Number.isSafeInteger(round) ? { round, bytes: new Uint8Array(bytes) } : null;
  }

  async saveRoundStart(runId: string, round: number, bytes: Uint8Array): Promise<void> {
    const file = join(this.dir, `${runId}.round-start.safetensors`);
    await writeAtomically(file, bytes);
    await writeAtomically(`${file}.round`, new TextEncoder().encode(String(round)));
  }

  async receipts(): Promise<Receipt[]> {
    const text = await readFile(join(this.dir, 'receipts.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Receipt);
  }

  async addReceipt(receipt: Receipt): Promise<void> {
    await appendFile(join(this.dir, 'receipts.jsonl'), `${JSON.stringify(receipt)}\n`);
  }

  /** The newest ledger head this volunteer has seen (head-watch.ts); unknown until parsed there. */
  async seenHead(): Promise<unknown> {
    const text = await readFile(join(this.dir, 'seen-head.json'), 'utf8').catch(() => null);
    if (text === null) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null; // a damaged file is a head not seen: HeadWatch keeps the next one served
    }
  }

  async saveSeenHead(head: SeenHead): Promise<void> {
    await writeAtomically(join(this.dir, 'seen-head.json'), new TextEncoder().encode(JSON.stringify(head)));
  }
}

async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  await writeFile(`${file}.tmp`, bytes);
  await rename(`${file}.tmp`, file);
}
