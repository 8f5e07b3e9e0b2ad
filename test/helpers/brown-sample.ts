// A few Brown Corpus documents as byte tokens, split into train and validation, for tests that
// need real text (learning beats unigram entropy) without preparing the whole data set.

import { byteTokenizer } from '../../protocol/tokenizer.ts';
import { readBrownCorpus } from '../../relay/datasets/brown.ts';

export interface TextSample {
  train: Uint16Array;
  val: Uint16Array;
}

export function brownSample(documents = 12): TextSample {
  const docs = readBrownCorpus().slice(0, documents + 1);
  const encode = (texts: string[]) => byteTokenizer.encode(texts.join('\n'));
  return {
    train: encode(docs.slice(0, documents).map((d) => d.text)),
    val: encode(docs.slice(documents).map((d) => d.text)),
  };
}
