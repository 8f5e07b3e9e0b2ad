// Where the relay and its commands keep what they make (prepared data, autotune choices,
// checkpoints, later the ledger): POTLUCK_STATE, else state/ at the repository root.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STATE_DIR = resolve(
  process.env.POTLUCK_STATE ?? fileURLToPath(new URL('../state', import.meta.url)),
);
