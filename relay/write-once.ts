// A secret file in the state folder (the relay key, the operator token), made on first use:
// written to a temporary file readable by the relay's user only, then hard-linked into place,
// which fails (EEXIST) if another relay got there first. Nobody ever reads a half-written file.
import { randomBytes } from 'node:crypto';
import { link, unlink, writeFile } from 'node:fs/promises';

/** Writes `bytes` to `file` (mode 0600), which must not exist yet (EEXIST otherwise). */
export async function writeOnce(file: string, bytes: Uint8Array | string): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, bytes, { mode: 0o600, flag: 'wx' });
  try {
    await link(temporary, file);
  } finally {
    await unlink(temporary);
  }
}
