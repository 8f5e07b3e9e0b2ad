export { resolveSignalOptions, type SignalLogger, type SignalServerOptions } from './options.ts';
export { CLOSE_STATUS, type SignalRefusalCode } from './refusals.ts';
export { createSignalServer, type SignalServer } from './server.ts';
export type { SignalStats } from './server-stats.ts';
