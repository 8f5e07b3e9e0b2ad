import { describe, expect, it } from 'vitest';
import { listBrownFiles, readBrownCorpus } from '../../../relay/datasets/brown.ts';
import { joinWords, splitTaggedToken, untagBrown } from '../../../relay/datasets/brown-text.ts';

// The opening of ca01 as the corpus stores it, plus a headline that sits directly on its
// paragraph and a paragraph of two sentence lines.
const TAGGED = `

\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn produced/vbd \`\`/\`\` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns took/vbd place/nn ./.


\`\`/\`\` Only/rb a/at relative/jj handful/nn ''/'' ,/, the/at jury/nn said/vbd ./.



Merger/nn-hl proposed/vbn-hl 
However/wrb ,/, the/at jury/nn said/vbd it/pps believes/vbz \`\`/\`\` these/dts two/cd offices/nns should/md be/be combined/vbn ''/'' ./.
It/pps urged/vbd that/cs the/at city/nn (/( and/cc county/nn )/) \`\`/\`\` take/vb steps/nns ''/'' ;/. ;/.
won/vbn by/in Ivan/np Allen/np Jr./np ./. Why/wrb ?/. ?/.
`;

const PLAIN = `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.
"Only a relative handful", the jury said.
Merger proposed
However, the jury said it believes "these two offices should be combined". It urged that the city (and county) "take steps"; won by Ivan Allen Jr. Why?
`;

describe('Brown Corpus tag stripping', () => {
  it('turns a tagged sample into plain text, one paragraph per line', () => {
    expect(untagBrown(TAGGED)).toBe(PLAIN);
  });

  it('splits word/tag at the last slash', () => {
    expect(splitTaggedToken('1-1/2/cd')).toEqual({ word: '1-1/2', tag: 'cd' });
    expect(splitTaggedToken("Atlanta's/np$")).toEqual({ word: "Atlanta's", tag: 'np$' });
    expect(splitTaggedToken('untagged')).toEqual({ word: 'untagged', tag: '' });
  });

  it('alternates lone single quotes between opening and closing', () => {
    expect(joinWords(['he', 'said', ',', "'", 'See', 'Jim', "'", '.'])).toBe("he said, 'See Jim'.");
  });

  it('keeps dashes spaced and is empty for empty input', () => {
    expect(joinWords(['Teachers', '--', 'men', '--', 'came', '!'])).toBe('Teachers -- men -- came!');
    expect(untagBrown('')).toBe('');
    expect(untagBrown('\n\n  \n')).toBe('');
  });
});

describe('Brown Corpus package', () => {
  it('lists the 500 files, ca01 to cr09, in order', () => {
    const files = listBrownFiles();
    expect(files).toHaveLength(500);
    expect(files[0]).toEqual({ id: 'ca01', category: 'news' });
    expect(files.at(-1)?.id).toBe('cr09');
  });

  it('reads plain text with no tags left', () => {
    const documents = readBrownCorpus();
    expect(documents).toHaveLength(500);
    const first = documents[0];
    expect(first?.name).toBe('brown/ca01');
    expect(first?.text.startsWith('The Fulton County Grand Jury said Friday')).toBe(true);
    // No word/tag pairs survive: a slash and one of the commonest tags, then a space. (The
    // corpus has genuine slashes, as in "hr./*0F./in. of thickness".)
    const leftovers = documents.filter((d) => /\S\/(?:at|nn|np|vbd|in)\s/.test(d.text));
    expect(leftovers.map((d) => d.name)).toEqual([]);
  });
});
