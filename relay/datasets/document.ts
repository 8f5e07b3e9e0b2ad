// What the prepare step consumes: named plain-text documents. The train/validation split
// works on whole documents, so a document is the unit that must not be cut in two.

export interface SourceDocument {
  /** Where it came from, e.g. `brown/ca01` or a file path; shown in errors and progress. */
  readonly name: string;
  readonly text: string;
}
