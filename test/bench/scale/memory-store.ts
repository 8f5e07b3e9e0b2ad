// A volunteer's store in memory, for simulated volunteers that never reload.
import type { Receipt } from '../../../protocol/ledger-signatures.ts';
import type { VolunteerStore } from '../../../web/src/peer/volunteer.ts';

export class MemoryVolunteerStore implements VolunteerStore {
  private state: { round: number; hash: string; bytes: Uint8Array } | null = null;
  private local: Uint8Array | null = null;
  private roundStart: { round: number; bytes: Uint8Array } | null = null;
  private readonly kept: Receipt[] = [];

  async loadState() {
    return this.state;
  }
  async saveState(_runId: string, round: number, hash: string, bytes: Uint8Array) {
    this.state = { round, hash, bytes };
  }
  async loadLocal() {
    return this.local;
  }
  async saveLocal(_runId: string, bytes: Uint8Array) {
    this.local = bytes;
  }
  async loadRoundStart() {
    return this.roundStart;
  }
  async saveRoundStart(_runId: string, round: number, bytes: Uint8Array) {
    this.roundStart = { round, bytes };
  }
  async receipts() {
    return [...this.kept];
  }
  async addReceipt(receipt: Receipt) {
    this.kept.push(receipt);
  }
}
