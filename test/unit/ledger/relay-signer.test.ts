// The relay's key survives restarts: made once in the state folder (owner-only), loaded
// again with the same public key, shared by relays that race to make it, and refused with a
// code when the file holds something else.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyEd25519 } from '../../../protocol/ed25519-verify.ts';
import { loadOrCreateRelayKey } from '../../../relay/ledger/relay-signer.ts';

describe('relay key', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'potluck-key-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is made once, private to its owner, and reloaded with the same public key', async () => {
    const file = join(dir, 'relay-key.pkcs8');
    const made = await loadOrCreateRelayKey(file);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const reloaded = await loadOrCreateRelayKey(file);
    expect(reloaded.publicKey).toBe(made.publicKey);
    const message = new TextEncoder().encode('potluck') as Uint8Array<ArrayBuffer>;
    const signature = await made.sign(message);
    expect(await reloaded.sign(message)).toBe(signature);
    expect(await verifyEd25519(made.publicKey, signature, message)).toBe(true);
    expect(await readdir(dir)).toEqual(['relay-key.pkcs8']);
  });

  it('gives racing relays one key', async () => {
    const file = join(dir, 'relay-key.pkcs8');
    const signers = await Promise.all(Array.from({ length: 6 }, () => loadOrCreateRelayKey(file)));
    expect(new Set(signers.map((s) => s.publicKey)).size).toBe(1);
    expect(await readdir(dir)).toEqual(['relay-key.pkcs8']);
  });

  it('refuses a file that holds no Ed25519 key', async () => {
    const file = join(dir, 'relay-key.pkcs8');
    await writeFile(file, 'not a key');
    await expect(loadOrCreateRelayKey(file)).rejects.toMatchObject({ code: 'ERR_RELAY_KEY' });
  });
});
