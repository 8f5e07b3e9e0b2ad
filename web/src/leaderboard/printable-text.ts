// A young byte-level model writes any byte: control characters and bytes that are not UTF-8.
// The tokenizer already turns bytes that are not UTF-8 into U+FFFD; control characters would
// otherwise reach the page as empty boxes (or not at all), so they become U+FFFD too. Line
// breaks and tabs stay: they are how text is laid out.

/** Unicode's control characters (Cc: C0, DEL, C1) but tab and line feed. */
const NON_PRINTING = /(?![\t\n])\p{Cc}/gu;

export function printable(text: string): string {
  return text.replace(NON_PRINTING, '\ufffd');
}
