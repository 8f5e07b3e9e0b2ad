// The relay's own HTTPS (relay/tls/): it serves the API, /swarm and /signal over TLS on one
// port; it refuses to start on a key that is not the certificate's, an unreadable file, or one
// of the two options alone, naming the files; and it picks up a renewed pair without a restart,
// keeping the old one while a renewal is half written. Certificates are made at test time.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Logger } from '../../../relay/logger.ts';
import type { RelayHandle } from '../../../relay/server.ts';
import { createRelayServer } from '../../../relay/tls/relay-server.ts';
import { TlsError, tlsFilesOf } from '../../../relay/tls/tls-files.ts';
import { generateKeyPair, identityFromKeyPair } from '../../../web/src/peer/identity.ts';
import { SwarmClient, type SwarmSocket } from '../../../web/src/peer/swarm-client.ts';
import { relayCommand } from '../../helpers/relay-process.ts';
import { type TestCertificate, testCertificate, writeTlsFiles } from '../../helpers/test-certificate.ts';
import { smallDataset, startTestRelay } from '../../helpers/test-relay.ts';
import { freshStamps } from '../../helpers/test-stamps.ts';
import { TestClient } from '../signal/harness.ts';

const ROOT = new URL('../../../', import.meta.url).pathname;

let dataset = '';
let first: TestCertificate;
let second: TestCertificate;

beforeAll(async () => {
  [dataset, first, second] = await Promise.all([smallDataset(), testCertificate(), testCertificate()]);
});

const freshDir = () => mkdtemp(join(tmpdir(), 'potluck-tls-'));
const fingerprintOf = (pair: TestCertificate) => new X509Certificate(pair.cert).fingerprint256;

/** The certificate a TLS client is shown on 127.0.0.1:`port`: its SHA-256 fingerprint. */
function presented(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** `npm start` as its own process: its exit code and what it printed on stderr. */
function runStart(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, relayCommand(args), {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('over HTTPS', () => {
  let relay: RelayHandle;
  let port = 0;

  beforeAll(async () => {
    const files = await writeTlsFiles(await freshDir(), first);
    relay = await startTestRelay(dataset, { tls: files });
    port = Number(new URL(relay.url).port);
  });
  afterAll(() => relay?.close());

  it('serves the API with the given certificate', async () => {
    expect(relay.url).toBe(`https://127.0.0.1:${port}`);
    expect(await presented(port)).toBe(fingerprintOf(first));
    const status = await new Promise<number | undefined>((resolve, reject) =>
      get(`${relay.url}/healthz`, { ca: first.cert }, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject),
    );
    expect(status).toBe(200);
  });

  it('serves /signal and /swarm as wss:// on the same port', async () => {
    const wss = relay.url.replace('https', 'wss');
    const signal = await TestClient.open(`${wss}/signal`, { ca: first.cert });
    await signal.sync(); // a ping answered with a pong
    signal.close();
    const identity = await identityFromKeyPair(await generateKeyPair());
    const swarm = await SwarmClient.connect({
      url: `${wss}/swarm`,
      identity,
      stamps: freshStamps(identity.publicKey),
      name: 'over-tls',
      platform: 'node',
      socket: (url) => new WebSocket(url, { ca: first.cert }) as unknown as SwarmSocket,
    });
    expect(swarm.runId).toBe(relay.run.id);
    swarm.close();
  });
});

describe('refusals at start', () => {
  it('refuses a key that is not the certificate’s, naming both files', async () => {
    const files = await writeTlsFiles(await freshDir(), { cert: first.cert, key: second.key });
    const refusal = await startTestRelay(dataset, { tls: files }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(TlsError);
    expect((refusal as TlsError).code).toBe('ERR_TLS_KEY_MISMATCH');
    expect((refusal as TlsError).message).toBe(
      `ERR_TLS_KEY_MISMATCH: the TLS key ${files.keyFile} does not match the certificate ${files.certFile}`,
    );
  });

  it('refuses a file it cannot read, or one that holds no key', async () => {
    const dir = await freshDir();
    const files = await writeTlsFiles(dir, first);
    const missing = { ...files, keyFile: join(dir, 'nowhere.key') };
    const unreadable = await startTestRelay(dataset, { tls: missing }).catch((error: unknown) => error);
    expect((unreadable as TlsError).code).toBe('ERR_TLS_UNREADABLE');
    expect((unreadable as TlsError).message).toContain(`cannot read the TLS key ${missing.keyFile}`);
    await writeFile(files.keyFile, first.cert); // a certificate where the key should be
    const invalid = await startTestRelay(dataset, { tls: files }).catch((error: unknown) => error);
    expect((invalid as TlsError).code).toBe('ERR_TLS_INVALID');
    expect((invalid as TlsError).message).toContain(
      `the TLS key ${files.keyFile} holds no usable private key`,
    );
  });

  it('takes both options or neither', () => {
    expect(tlsFilesOf(undefined, undefined)).toBeNull();
    expect(tlsFilesOf('a.crt', 'a.key')).toEqual({ certFile: 'a.crt', keyFile: 'a.key' });
    expect(() => tlsFilesOf('a.crt', undefined)).toThrow(
      'ERR_TLS_HALF_PAIR: the TLS certificate a.crt was given without --tls-key; give both',
    );
    expect(() => tlsFilesOf(undefined, 'a.key')).toThrow(
      'ERR_TLS_HALF_PAIR: the TLS key a.key was given without --tls-cert; give both',
    );
  });

  it('npm start exits 2 with the reason for one option alone, or a mismatched pair', async () => {
    const dir = await freshDir();
    const files = await writeTlsFiles(dir, { cert: first.cert, key: second.key });
    const state = ['--state', join(dir, 'state')];
    const half = await runStart([...state, '--tls-cert', files.certFile]);
    expect(half.code).toBe(2);
    expect(half.stderr).toContain(
      `potluck relay: ERR_TLS_HALF_PAIR: the TLS certificate ${files.certFile} was given without --tls-key`,
    );
    const halfByEnv = await runStart(state, { POTLUCK_TLS_KEY: files.keyFile });
    expect(halfByEnv.code).toBe(2);
    expect(halfByEnv.stderr).toContain(`the TLS key ${files.keyFile} was given without --tls-cert`);
    const mismatched = await runStart([...state, '--tls-cert', files.certFile, '--tls-key', files.keyFile]);
    expect(mismatched.code).toBe(2);
    expect(mismatched.stderr).toContain(
      `potluck relay: ERR_TLS_KEY_MISMATCH: the TLS key ${files.keyFile} does not match the certificate ${files.certFile}`,
    );
  });
});

describe('renewal', () => {
  /** Replaces `file` as certbot and most tools do: a new file renamed over the old one. */
  async function replace(file: string, text: string): Promise<void> {
    await writeFile(`${file}.new`, text);
    await rename(`${file}.new`, file);
  }

  it('presents a renewed pair without a restart, and keeps the old one while the key lags', async () => {
    const files = await writeTlsFiles(await freshDir(), first);
    const logged: { level: string; message: string | undefined }[] = [];
    const note = (level: string) => (_fields: object, message?: string) => logged.push({ level, message });
    const log: Logger = {
      debug: note('debug'),
      info: note('info'),
      warn: note('warn'),
      error: note('error'),
    };
    const server = await createRelayServer((_request, response) => response.end('ok'), files, log, {
      intervalMs: 50,
      settleMs: 50,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      expect(await presented(port)).toBe(fingerprintOf(first));

      // The new certificate lands first: it does not match the key still in place.
      await replace(files.certFile, second.cert);
      await expect.poll(() => logged.filter((entry) => entry.level === 'error').length).toBeGreaterThan(0);
      expect(await presented(port)).toBe(fingerprintOf(first));

      // Then its key: the pair is whole again, and new handshakes get it.
      await replace(files.keyFile, second.key);
      await expect.poll(() => presented(port), { timeout: 5_000 }).toBe(fingerprintOf(second));
      expect(logged.at(-1)).toEqual({ level: 'info', message: 'TLS certificate reloaded' });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }

    // Closed: the files are no longer watched.
    const before = logged.length;
    await replace(files.certFile, first.cert);
    await replace(files.keyFile, first.key);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(logged.length).toBe(before);
  });
});
