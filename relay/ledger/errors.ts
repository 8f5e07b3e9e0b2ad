// Errors from the ledger store carry stable codes (simple-peer's ERR_* habit), so the round
// coordinator can tell a caller's mistake from a broken database.
import { CodedError } from '../../protocol/coded-error.ts';

export type LedgerErrorCode =
  | 'ERR_LEDGER_INPUT' // a run id, key, hash, count or shard the ledger cannot record
  | 'ERR_LEDGER_UNKNOWN_RUN' // commitRound for a run that ensureRun never recorded
  | 'ERR_LEDGER_ROUND_CONFLICT' // the round is already committed with another model hash
  | 'ERR_LEDGER_SCHEMA' // the database holds a newer schema than this code knows
  | 'ERR_LEDGER_CLOSED' // the store was used after close()
  | 'ERR_LEDGER_BROKEN' // the chain, a head or a round's metadata fails verification (ledger-audit.ts)
  | 'ERR_RELAY_KEY' // the relay key file exists but holds no usable Ed25519 key, or is missing
  | 'ERR_RELAY_KEY_MISMATCH' // the relay's key is not one the ledger was ever signed with
  | 'ERR_RELAY_KEY_RETIRED'; // the relay's key was rotated away (protocol/ledger-keys.ts)

export class LedgerError extends CodedError<LedgerErrorCode> {
  override readonly name = 'LedgerError';
}
