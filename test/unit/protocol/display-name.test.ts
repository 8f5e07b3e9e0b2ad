// A hello's display name goes on the public leaderboard: characters that are invisible or
// reorder the text around them (controls, bidi overrides and isolates, zero-width ones) are
// refused with the schema's typed error; ordinary names in any script pass. Names that read the
// same (case, width, lookalikes, spacing) normalize to one form, which the relay holds once.
import { describe, expect, it } from 'vitest';
import { isShowableName, normalizeName } from '../../../protocol/display-name.ts';
import { MAX_NAME_LENGTH, parsePeerMessage } from '../../../protocol/swarm-messages.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';

const identity = await identityFromKeyPair(await generateKeyPair());
const signature = await identity.sign(new Uint8Array(8));

const hello = (name: string) =>
  parsePeerMessage(
    JSON.stringify({ type: 'hello', publicKey: identity.publicKey, signature, name, platform: 'node' }),
  );

const REFUSED: Record<string, string> = {
  NUL: 'ada\u0000',
  BEL: '\u0007ada',
  'line feed': 'ada\nlovelace',
  DEL: 'ada\u007f',
  'C1 CSI': 'ada\u009b',
  LRE: '\u202aada',
  RLO: 'ada\u202elace',
  PDF: 'ada\u202c',
  LRI: '\u2066ada',
  PDI: 'ada\u2069',
  LRM: 'ada\u200e',
  RLM: 'ada\u200f',
  'Arabic letter mark': 'ada\u061c',
  'zero-width space': 'a\u200bda',
  'zero-width non-joiner': 'a\u200cda',
  'zero-width joiner': 'a\u200dda',
  'word joiner': 'a\u2060da',
  'zero-width no-break space': '\ufeffada',
  'lone surrogate': 'ada\ud800',
  'soft hyphen': 'local\u00ad-1',
  'combining grapheme joiner': 'local-1\u034f',
  'variation selector': 'ada\ufe0f',
  'Arabic number sign (a format character)': 'local-1\u0600',
  'Braille blank': 'local-1\u2800',
  'musical null notehead': 'local-1\u{1d159}',
};

describe('display names', () => {
  for (const [what, name] of Object.entries(REFUSED))
    it(`refuses a name with a ${what}`, () => {
      expect(isShowableName(name)).toBe(false);
      expect(hello(name)).toEqual({
        ok: false,
        error: {
          code: 'ERR_SWARM_SCHEMA',
          message: 'name: a name may not hold control, bidi or zero-width characters',
        },
      });
    });

  it('accepts names in any script, with spaces, punctuation and emoji', () => {
    for (const name of [
      'Ada',
      'ada lovelace',
      'Émile-Zoë',
      '日本語の名前',
      'مرحبا',
      'עברית',
      '🚀 rocket',
      "o'brien",
    ])
      expect(hello(name)).toMatchObject({ ok: true, value: { name } });
    expect(hello('x'.repeat(MAX_NAME_LENGTH))).toMatchObject({ ok: true });
    expect(hello('x'.repeat(MAX_NAME_LENGTH + 1))).toMatchObject({
      ok: false,
      error: { code: 'ERR_SWARM_SCHEMA' },
    });
  });
});

describe('normalizeName', () => {
  it('gives names that read the same one form', () => {
    const same = [
      ['Alice', 'ALICE', 'alice', 'Ａｌｉｃｅ', ' Alice  ', 'аlice' /* Cyrillic а */, 'A1ice'],
      ['Ada Lovelace', 'ada   lovelace', 'ADA\tLOVELACE', 'Ada\u00a0Lovelace', 'Ada\u3000Lovelace'],
      ['Straße', 'STRASSE', 'strasse'],
      ['ﬁsh', 'fish'],
      ['b0b', 'bob', 'BOB'],
      // An outside attack passed these off as "local-1": capital I, Cyrillic palochka, en dash.
      ['local-1', 'Iocal-1', 'ӏocal-1', 'Ӏocal-1', 'locaӏ-1', 'local–1', 'local—1', 'LOCAL-1'],
      // A second pass found these: lookalike letters of other scripts and Latin extensions,
      // dashes outside the dash category, ones that are not digits, and combining marks.
      [
        'local-1',
        'ǀocal-1',
        'Ɩocal-1',
        'ⵏocal-1',
        '׀ocal-1',
        'ᛁocal-1',
        'lօcal-1',
        'loϲal-1',
        'lᴏcal-1',
        'locɑl-1',
        'local˗1',
        'local⁃1',
        'local-〡',
        'local-ꓲ',
        'local-١',
        'local-1\u0323',
        'local-1\u0e47',
      ],
      // A pass on names across relays: vertical strokes of other blocks, and letter pairs.
      [
        'william',
        'vvilliam',
        'williarn',
        'wiǁiam',
        'wi││iam',
        'wi┃┃iam',
        'wi❘❘iam',
        'wi⏽⏽iam',
        'wiꞁꞁiam',
        'wi।।iam',
        'wiᴌᴌiam',
      ],
    ];
    for (const group of same) {
      const forms = new Set(group.map(normalizeName));
      expect([...forms], group.join(', ')).toHaveLength(1);
    }
  });

  it('keeps different names apart', () => {
    const names = ['alice', 'alicia', 'bob', 'ada lovelace', 'adalovelace', '日本', 'émile', 'amile'];
    expect(new Set(names.map(normalizeName)).size).toBe(names.length);
  });
});
