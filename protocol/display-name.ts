// A name a volunteer chooses and the public leaderboard shows. Whatever a peer sends there is
// read by strangers, so a name may not hold characters that are invisible or rearrange the text
// around them: control characters (NUL included), bidi embeddings, overrides and isolates (the
// "Trojan Source" characters, CVE-2021-42574), bidi marks, zero-width characters and lone
// surrogates. A name holding one is refused, not cleaned: the peer can choose another.
import { remove as removeConfusables } from 'confusables';
import * as v from 'valibot';

/**
 * \p{Cc}: C0 controls, DEL and C1 controls. U+061C, U+200E, U+200F: bidi marks. U+202A–U+202E:
 * embeddings and overrides. U+2066–U+2069: isolates. U+200B–U+200D, U+2060, U+FEFF: zero-width
 * space, non-joiner, joiner, word joiner and no-break space (U+2061–U+2064 are invisible
 * operators, U+2065 is unassigned). \p{Cs}: a surrogate with no partner. And every other
 * default-ignorable code point (drawn as nothing: the soft hyphen U+00AD, the combining grapheme
 * joiner U+034F, variation selectors, Hangul fillers…), which an outside attack used to pass
 * "local\u00AD-1" off as "local-1"; every other format character (\p{Cf}, such as U+0600); and
 * symbols drawn blank (the Braille blank U+2800, the musical null notehead U+1D159).
 */
const UNSHOWABLE =
  /[\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u2800\u{1d159}]/u;

/** Whether `name` holds none of the characters a display name may not. */
export function isShowableName(name: string): boolean {
  return !UNSHOWABLE.test(name);
}

/** A display name of at most `max` UTF-16 units, every character of it showable. */
export const DisplayName = (max: number) =>
  v.pipe(
    v.string(),
    v.maxLength(max),
    v.check(isShowableName, 'a name may not hold control, bidi or zero-width characters'),
  );

/**
 * Latin letters that Cyrillic and Greek lowercase letters are drawn as, and the digits read as
 * letters: a short, cheap slice of Unicode's confusables (UTS #39), enough that "аlice" (Cyrillic
 * а) and "a1ice" collide with "alice". Applied after case folding. Like a UTS #39 skeleton it is
 * lossy on purpose: "ian" and "lan" are one name too.
 */
const LOOKALIKES: Readonly<Record<string, string>> = {
  а: 'a', // U+0430
  е: 'e', // U+0435
  о: 'o', // U+043E
  р: 'p', // U+0440
  с: 'c', // U+0441
  у: 'y', // U+0443
  х: 'x', // U+0445
  і: 'l', // U+0456, drawn as i: i, l, 1, | and I are one stroke in many fonts
  i: 'l', // so "Iocal" (capital I), "local" and "1ocal" meet
  ι: 'l', // U+03B9 Greek iota
  ј: 'j', // U+0458
  ѕ: 's', // U+0455
  ο: 'o', // U+03BF Greek omicron
  ν: 'v', // U+03BD Greek nu
  ρ: 'p', // U+03C1 Greek rho
  ӏ: 'l', // U+04CF Cyrillic palochka (its capital U+04C0 folds to it)
  〡: 'l', // U+3021 Hangzhou numeral one
  ꓲ: 'l', // U+A4F2 Lisu letter i
  ς: 'c', // U+03C2, what NFKC makes of the lunate sigma ϲ: mapped before case folding makes it σ
  '0': 'o',
  '1': 'l',
  '|': 'l',
  // Vertical strokes from other blocks, drawn as "l" in a name (the second outside pass on names
  // got each one past as part of a live volunteer's name):
  '│': 'l', // U+2502 box drawing
  '┃': 'l', // U+2503
  '❘': 'l', // U+2758 light vertical bar
  '⏽': 'l', // U+23FD power on symbol
  ꞁ: 'l', // U+A781 small turned l
  '।': 'l', // U+0964 Devanagari danda
  ᴌ: 'l', // U+1D0C small capital l with stroke
  ǁ: 'll', // U+01C1 lateral click, drawn as two strokes
};

const LOOKALIKE = new RegExp(`[${Object.keys(LOOKALIKES).join('').replace('|', '\\|')}]`, 'gu');

/**
 * The form two names are compared in: NFKC (full-width "Ａｌｉｃｅ" and ligatures become plain
 * letters), Unicode's confusables drawn as their Latin letter (the `confusables` package: "ǀ",
 * "Ɩ", "ᴏ", "ɑ", Armenian "օ" and hundreds more), case folded (upper then lower, so "ß" and "SS" meet as "ss"), lookalikes mapped,
 * dashes made one, combining marks dropped, runs of whitespace made one space, ends trimmed. Two volunteers whose names normalize alike
 * could pass for each other on the leaderboard, so a run holds each normalized name once.
 */
/** Our own lookalikes first, where they are more precise than the package's. */
function lookalikes(text: string): string {
  return text.replace(LOOKALIKE, (c) => LOOKALIKES[c] ?? c);
}

export function normalizeName(name: string): string {
  return (
    removeConfusables(
      lookalikes(lookalikes(name.normalize('NFKC')).toUpperCase().toLowerCase().normalize('NFKC')),
    )
      // The confusables' Latin letters may be capitals ("ß" is drawn like "B", so folded first).
      .toLowerCase()
      .replace(LOOKALIKE, (c) => LOOKALIKES[c] ?? c)
      // Every dash (hyphen-minus, en and em dashes, the minus sign, modifier minus, hyphen
      // bullet…) is one.
      .replace(/[\p{Pd}\u2212\u02d7\u2043\u2796]/gu, '-')
      // Combining marks are compared without: "local-1" with a dot below is still "local-1".
      .normalize('NFD')
      .replace(/\p{M}/gu, '')
      .replace(/\s+/gu, ' ')
      .trim()
      // Letter pairs drawn as one letter in most fonts, made that letter: lossy on purpose, like
      // a UTS #39 skeleton ("burn" and "bum" are one name).
      .replace(/rn/gu, 'm')
      .replace(/vv/gu, 'w')
  );
}
