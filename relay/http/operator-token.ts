// The relay operator's token: what an operator action over HTTP (starting a run's cooldown,
// POST /api/runs/:id/cooldown) must carry as `Authorization: Bearer <token>` (RFC 6750).
// 32 random bytes, made on the relay's first start and kept in the state folder beside the relay
// key, readable by the relay's user only; whoever can read it can act as the operator, as whoever
// holds the relay key can sign as the relay. `npm run cooldown` reads it from there. Send it over
// HTTPS (or to localhost): on plain HTTP anyone on the path reads it. Several relays of one run
// need the same file, as they need the same relay key (README, "Several relays").
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { HTTPException } from 'hono/http-exception';
import { encodeBase64url } from '../../protocol/base64url.ts';
import { writeOnce } from '../write-once.ts';

/** The token's file name in the state folder. */
export const OPERATOR_TOKEN_FILE = 'operator-token';

/** 32 bytes in base64url: 43 characters, nothing else. */
const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;

export class OperatorTokenError extends Error {
  readonly code = 'ERR_OPERATOR_TOKEN';
}

/** The token in `file`, or null when there is no such file; refuses a file that holds no token. */
export async function readOperatorToken(file: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const token = text.trim();
  if (!TOKEN_FORMAT.test(token))
    throw new OperatorTokenError(`${file} holds no operator token (43 base64url characters)`);
  return token;
}

/** The token in `file`, made on first use (write-once.ts: two relays starting at once agree). */
export async function loadOrCreateOperatorToken(file: string): Promise<string> {
  const existing = await readOperatorToken(file);
  if (existing) return existing;
  await writeOnce(file, `${encodeBase64url(new Uint8Array(randomBytes(32)))}\n`).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
  return (await readOperatorToken(file)) ?? Promise.reject(new OperatorTokenError(`${file} vanished`));
}

/**
 * Lets through only requests bearing `token` (compared in constant time, hono's bearerAuth);
 * with no token every request is refused (401).
 */
export function operatorAuth(token: string | null): MiddlewareHandler {
  if (token === null)
    return async function noOperator() {
      throw new HTTPException(401, { message: 'this relay has no operator token' });
    };
  const check = bearerAuth({ token });
  return async function operatorOnly(c, next) {
    try {
      return await check(c, next);
    } catch (error) {
      // One readable refusal whatever was wrong (no header, another scheme, another token).
      if (error instanceof HTTPException && (error.status === 400 || error.status === 401))
        throw new HTTPException(401, { message: 'an operator action needs the relay operator token' });
      throw error;
    }
  };
}
