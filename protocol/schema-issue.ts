// How a schema's refusal reads, wherever a valibot schema checks untrusted input: the first
// issue, with the dotted path of the field it concerns (`splits.train.tokens: ...`), or just
// its message when it concerns the whole value.
import * as v from 'valibot';

type Issues = readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]];

/** The first issue's dotted field path ('' for the whole value) and message. */
export function firstIssue(issues: Issues): { readonly path: string; readonly message: string } {
  const issue = issues[0];
  return { path: v.getDotPath(issue) ?? '', message: issue.message };
}

/** The first issue as `path: message`, or `message` at the root. */
export function issueText(issues: Issues): string {
  const { path, message } = firstIssue(issues);
  return path ? `${path}: ${message}` : message;
}
