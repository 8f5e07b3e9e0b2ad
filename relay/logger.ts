// Structured logs (pino): one JSON object per line on stdout, so an operator can pipe them to
// any collector. Modules take the `Logger` interface, not pino itself, so tests pass a silent
// or a collecting logger.
import { pino } from 'pino';

type LogFn = (fields: object, message?: string) => void;

export interface Logger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'potluck-relay' } });
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
