// An error with a stable code (simple-peer's ERR_* habit): callers switch on `code`, and the
// message starts with it, so a log line says which failure it was.

export class CodedError<Code extends string> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
