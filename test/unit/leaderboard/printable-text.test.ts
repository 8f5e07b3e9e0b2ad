// What the board shows of the model's bytes: anything, never a throw; what cannot be read as
// text is U+FFFD, and line breaks and tabs stay.
import { describe, expect, it } from 'vitest';
import { byteTokenizer } from '../../../protocol/tokenizer.ts';
import { printable } from '../../../web/src/leaderboard/printable-text.ts';

const shown = (bytes: number[]) => printable(byteTokenizer.decode(bytes));

describe('printable', () => {
  it('keeps text, line breaks and tabs as they are', () => {
    expect(shown([...byteTokenizer.encode('The jury\n\tsaid é')])).toBe('The jury\n\tsaid é');
  });

  it('shows control characters and bytes that are not UTF-8 as U+FFFD', () => {
    expect(shown([0x41, 0x00, 0x07, 0x0d, 0x1b, 0x7f, 0x42])).toBe('A\ufffd\ufffd\ufffd\ufffd\ufffdB');
    expect(shown([0x41, 0xff, 0xc3])).toBe('A\ufffd\ufffd'); // a bad byte, then half a character
    expect(shown([0xc2, 0x85])).toBe('\ufffd'); // U+0085, a C1 control in valid UTF-8
  });

  it('shows every byte sequence without throwing', () => {
    const bytes = Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24);
    expect(() => shown(bytes)).not.toThrow();
    const controls = [...shown(bytes)]
      .map((char) => char.codePointAt(0) as number)
      .filter((code) => (code < 0x20 && code !== 0x09 && code !== 0x0a) || (code >= 0x7f && code < 0xa0));
    expect(controls).toEqual([]);
  });
});
