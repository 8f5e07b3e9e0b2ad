// The `default` of a switch over a discriminated union: it compiles only when every case is
// handled (its argument must be `never`), and if a value the types ruled out arrives anyway it
// fails loudly, naming what it was.
export function unreachable(value: never, what: string): never {
  throw new TypeError(`unhandled ${what} ${JSON.stringify(value)}`);
}
