// The kernels' environment is "a worker or Node": both have `console`, which ES2022's lib
// does not declare. Only what the kernels use is declared here.
declare const console: {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
};
declare function setTimeout(callback: () => void, ms?: number): unknown;
declare const performance: { now(): number };
