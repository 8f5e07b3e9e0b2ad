// The Node server under the relay's request listener: node:http, or node:https when the
// operator gave a certificate and key. Both emit 'upgrade', so /swarm and /signal are served as
// wss:// on the same port with no change to their routing (http/upgrade-route.ts).
//
// A certificate is renewed by replacing its files (certbot swaps the symlinks in live/ every
// ~60 days): the pair is re-read when either file changes and handed to setSecureContext, so new
// handshakes get the new certificate and open connections keep theirs. A renewal that fails to
// load, or whose key does not match, keeps the old pair and logs why: a relay that stopped
// serving would be worse than one that serves a certificate a few days from expiring.
import { type StatsListener, unwatchFile, watchFile } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from '../logger.ts';
import { readTlsPair, type TlsFiles } from './tls-files.ts';

export interface TlsWatch {
  /** How often each file's stat is polled: polling sees a replaced symlink or a rename alike. */
  readonly intervalMs: number;
  /** Quiet time after a change before reloading, so the other file of a renewal lands too. */
  readonly settleMs: number;
}

export const DEFAULT_TLS_WATCH: TlsWatch = {
  intervalMs: 10_000, // a renewal lands weeks before expiry: seconds of delay cost nothing
  settleMs: 2_000,
};

/**
 * A server for `listener`: HTTPS with the pair in `tls` (checked first: throws a TlsError), or
 * plain HTTP for null. Watching the files stops when the server closes.
 */
export async function createRelayServer(
  listener: RequestListener,
  tls: TlsFiles | null,
  log: Logger,
  watch: TlsWatch = DEFAULT_TLS_WATCH,
): Promise<Server> {
  if (tls === null) return createHttpServer(listener);
  const server = createHttpsServer(await readTlsPair(tls), listener);
  watchPair(server, tls, log, watch);
  return server;
}

/** Reloads `server`'s certificate whenever a file of `tls` changes, until the server closes. */
function watchPair(
  server: ReturnType<typeof createHttpsServer>,
  tls: TlsFiles,
  log: Logger,
  watch: TlsWatch,
): void {
  let settle: NodeJS.Timeout | undefined;
  let closed = false;
  // One reload at a time: a change seen during a reload is reloaded after it, not beside it.
  let reloading = Promise.resolve();

  const reload = async (): Promise<void> => {
    try {
      const pair = await readTlsPair(tls);
      if (closed) return;
      server.setSecureContext(pair);
      log.info({ certFile: tls.certFile, keyFile: tls.keyFile }, 'TLS certificate reloaded');
    } catch (error) {
      log.error(
        { err: error, certFile: tls.certFile, keyFile: tls.keyFile },
        'the changed TLS certificate or key does not load; still serving the previous pair',
      );
    }
  };
  const onChange: StatsListener = () => {
    clearTimeout(settle);
    settle = setTimeout(() => {
      reloading = reloading.then(reload);
    }, watch.settleMs);
    settle.unref();
  };
  // Not persistent: a watcher alone must not keep the process alive.
  const options = { interval: watch.intervalMs, persistent: false };
  watchFile(tls.certFile, options, onChange);
  watchFile(tls.keyFile, options, onChange);
  const stop = () => {
    closed = true;
    clearTimeout(settle);
    unwatchFile(tls.certFile, onChange);
    unwatchFile(tls.keyFile, onChange);
  };
  server.once('close', stop);
  // A server that never listens (its port taken) never closes either. Only until it listens:
  // a listener left on 'error' would swallow what should crash a listening relay.
  server.once('error', stop);
  server.once('listening', () => server.off('error', stop));
}
