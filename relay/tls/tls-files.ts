// The relay's own TLS certificate and key (`--tls-cert`, `--tls-key`): the two files named
// together or not at all, read and checked as a pair before the relay serves them, so an
// operator learns of a wrong key from the relay's refusal rather than from browsers failing a
// handshake. Browsers give WebGPU and WebRTC only to secure contexts
// (https://w3c.github.io/webappsec-secure-contexts/), so away from localhost this is a must.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { CodedError } from '../../protocol/coded-error.ts';

export type TlsErrorCode =
  | 'ERR_TLS_HALF_PAIR' // a certificate without a key, or a key without a certificate
  | 'ERR_TLS_UNREADABLE' // a file that cannot be read
  | 'ERR_TLS_INVALID' // a file that holds no PEM certificate, or no usable private key
  | 'ERR_TLS_KEY_MISMATCH'; // a key that is not the certificate's

export class TlsError extends CodedError<TlsErrorCode> {
  override readonly name = 'TlsError';
}

/** Where the PEM certificate (its chain may follow it, as certbot's fullchain.pem) and key are. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** Their contents, checked to belong together. */
export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The pair named by the two options, null for neither; throws ERR_TLS_HALF_PAIR for one alone. */
export function tlsFilesOf(certFile: string | undefined, keyFile: string | undefined): TlsFiles | null {
  if (!certFile && !keyFile) return null;
  if (!certFile)
    throw new TlsError('ERR_TLS_HALF_PAIR', `the TLS key ${keyFile} was given without --tls-cert; give both`);
  if (!keyFile)
    throw new TlsError(
      'ERR_TLS_HALF_PAIR',
      `the TLS certificate ${certFile} was given without --tls-key; give both`,
    );
  return { certFile, keyFile };
}

async function read(what: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TlsError('ERR_TLS_UNREADABLE', `cannot read the TLS ${what} ${file}: ${reason}`, {
      cause: error,
    });
  }
}

/** Reads both files and checks that they parse and that the key is the certificate's. */
export async function readTlsPair(files: TlsFiles): Promise<TlsPair> {
  const { certFile, keyFile } = files;
  const [cert, key] = await Promise.all([read('certificate', certFile), read('key', keyFile)]);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert); // the first certificate of a chain: the relay's own
  } catch (error) {
    throw new TlsError('ERR_TLS_INVALID', `the TLS certificate ${certFile} holds no PEM certificate`, {
      cause: error,
    });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TlsError('ERR_TLS_INVALID', `the TLS key ${keyFile} holds no usable private key: ${reason}`, {
      cause: error,
    });
  }
  // False for another key of the same type and for a key of another type (EC for RSA) alike.
  if (!certificate.checkPrivateKey(privateKey))
    throw new TlsError(
      'ERR_TLS_KEY_MISMATCH',
      `the TLS key ${keyFile} does not match the certificate ${certFile}`,
    );
  try {
    createSecureContext({ cert, key }); // what the server will do with them: OpenSSL has the last word
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TlsError('ERR_TLS_INVALID', `OpenSSL refuses ${certFile} with ${keyFile}: ${reason}`, {
      cause: error,
    });
  }
  return { cert, key };
}
