import { describe, expect, it } from 'vitest';
import { CodedError } from '../../../protocol/coded-error.ts';
import { DatasetError } from '../../../relay/datasets/errors.ts';
import { LedgerError } from '../../../relay/ledger/errors.ts';

describe('CodedError', () => {
  it('keeps the code, prefixes the message with it and passes the cause on', () => {
    const cause = new Error('disk');
    const error = new CodedError('ERR_X', 'it broke', { cause });
    expect(error.code).toBe('ERR_X');
    expect(error.message).toBe('ERR_X: it broke');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
  });

  it('is what the relay errors are made of, each under its own name', () => {
    const dataset = new DatasetError('ERR_TOKENIZER', 'unknown tokenizer');
    const ledger = new LedgerError('ERR_LEDGER_CLOSED', 'closed');
    expect([dataset.name, dataset.message, dataset.code]).toEqual([
      'DatasetError',
      'ERR_TOKENIZER: unknown tokenizer',
      'ERR_TOKENIZER',
    ]);
    expect([ledger.name, ledger.message]).toEqual(['LedgerError', 'ERR_LEDGER_CLOSED: closed']);
    expect(ledger).toBeInstanceOf(CodedError);
    expect(ledger).not.toBeInstanceOf(DatasetError);
  });
});
