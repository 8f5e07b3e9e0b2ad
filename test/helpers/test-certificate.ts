// Self-signed certificates made at test time (the `selfsigned` package: pure JS, no OpenSSL
// binary), so no private key is ever committed. EC P-256 keys: fast to make.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import type { TlsFiles } from '../../relay/tls/tls-files.ts';

export interface TestCertificate {
  readonly cert: string;
  readonly key: string;
}

/** A certificate for `hostname` (and 127.0.0.1) with its key, as PEM. */
export async function testCertificate(hostname = 'localhost'): Promise<TestCertificate> {
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: hostname },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Writes `pair` as relay.crt and relay.key in `dir` (the names the refusals are checked by). */
export async function writeTlsFiles(dir: string, pair: TestCertificate): Promise<TlsFiles> {
  const files = { certFile: join(dir, 'relay.crt'), keyFile: join(dir, 'relay.key') };
  await writeFile(files.certFile, pair.cert);
  await writeFile(files.keyFile, pair.key);
  return files;
}
