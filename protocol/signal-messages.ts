// The y-webrtc signaling protocol (what `y-webrtc`'s providers send to a signaling server, see
// node_modules/y-webrtc/src/y-webrtc.js and bin/server.js): JSON text frames of four kinds.
//
//   { type: 'subscribe',   topics: string[] }   join rooms
//   { type: 'unsubscribe', topics: string[] }   leave rooms
//   { type: 'publish',     topic: string, ... } forwarded verbatim to every subscriber of `topic`
//   { type: 'ping' }                            answered with { type: 'pong' }
//
// Peers are untrusted: `parseSignalMessage` never throws, checks the text length before
// JSON.parse, refuses `__proto__` keys anywhere (a forwarded object must not be able to
// reach a receiver's Object.assign or spread as a prototype), and caps every array and
// string it looks at. The publish payload is otherwise opaque: y-webrtc puts offers, answers,
// ICE candidates or encrypted base64 in `data`, and the relay must not care which.
import * as v from 'valibot';

export const DEFAULT_SIGNAL_LIMITS = {
  /** Longest frame text accepted, in UTF-16 code units; the relay caps bytes before this. */
  maxTextLength: 64 * 1024,
  /** Longest room name. y-webrtc rooms are user-chosen names; 256 leaves room for UUID prefixes. */
  maxTopicLength: 256,
  /** Most topics in one subscribe/unsubscribe. A provider sends one per room it has open. */
  maxTopicsPerMessage: 64,
} as const;

/** The limits a parser applies; a relay may tighten them (relay/signal/options.ts). */
export type SignalLimits = { readonly [K in keyof typeof DEFAULT_SIGNAL_LIMITS]: number };

export type SignalErrorCode =
  | 'ERR_SIGNAL_TOO_LARGE' // text longer than maxTextLength (checked before parsing)
  | 'ERR_SIGNAL_JSON' // not JSON at all
  | 'ERR_SIGNAL_PROTO' // a "__proto__" key somewhere in the message
  | 'ERR_SIGNAL_TYPE' // not an object, or `type` is none of the four
  | 'ERR_SIGNAL_SHAPE' // a known `type` with missing or mistyped fields
  | 'ERR_SIGNAL_TOPIC_LENGTH' // a topic empty or longer than maxTopicLength
  | 'ERR_SIGNAL_TOO_MANY_TOPICS'; // more than maxTopicsPerMessage topics in one message

export interface SignalError {
  readonly code: SignalErrorCode;
  readonly message: string;
}

export type SignalParseResult =
  | { readonly ok: true; readonly value: SignalMessage }
  | { readonly ok: false; readonly error: SignalError };

/** The schemas for a set of limits; the arrays are length-checked before their items. */
export function signalMessageSchema(limits: SignalLimits) {
  const topic = v.pipe(v.string(), v.minLength(1), v.maxLength(limits.maxTopicLength));
  const topics = v.pipe(
    v.custom<unknown[]>(
      (input) => Array.isArray(input) && input.length <= limits.maxTopicsPerMessage,
      `Expected an array of at most ${limits.maxTopicsPerMessage} topics`,
    ),
    v.array(topic),
  );
  return v.variant('type', [
    v.object({ type: v.literal('subscribe'), topics }),
    v.object({ type: v.literal('unsubscribe'), topics }),
    // Loose: everything besides `type` and `topic` is the publisher's and is forwarded as is.
    v.looseObject({ type: v.literal('publish'), topic }),
    v.object({ type: v.literal('ping') }),
  ]);
}

export const SignalMessageSchema = signalMessageSchema(DEFAULT_SIGNAL_LIMITS);
export type SignalMessage = v.InferOutput<typeof SignalMessageSchema>;
export type SignalMessageType = SignalMessage['type'];
export type SubscribeMessage = Extract<SignalMessage, { type: 'subscribe' }>;
export type UnsubscribeMessage = Extract<SignalMessage, { type: 'unsubscribe' }>;
export type PublishMessage = Extract<SignalMessage, { type: 'publish' }>;
export type PingMessage = Extract<SignalMessage, { type: 'ping' }>;

const SIGNAL_TYPES: ReadonlySet<unknown> = new Set<SignalMessageType>([
  'subscribe',
  'unsubscribe',
  'publish',
  'ping',
]);
const PROTO_KEY = '__proto__';
/** Stop at the first issue: the message is refused whole, one reason is enough. */
const PARSE_CONFIG = { abortEarly: true } as const;

function refuse(code: SignalErrorCode, message: string): { ok: false; error: SignalError } {
  return { ok: false, error: { code, message } };
}

/**
 * Whether any object in `root` has an own `__proto__` key (JSON.parse makes it an ordinary
 * own property; Object.assign or a for-in copy would turn it into a prototype). Iterative,
 * so no nesting depth can overflow the stack.
 */
function hasProtoKey(root: unknown): boolean {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (Array.isArray(node)) {
      for (const item of node) stack.push(item);
      continue;
    }
    if (Object.hasOwn(node, PROTO_KEY)) return true;
    for (const item of Object.values(node)) stack.push(item);
  }
  return false;
}

/** A key spelled `__proto__` needs that substring or a `\u` escape in the text. */
function mayHoldProtoKey(text: string): boolean {
  return text.includes(PROTO_KEY) || text.includes('\\u');
}

function issueCode(issue: v.BaseIssue<unknown>): SignalErrorCode {
  const field = issue.path?.[0]?.key;
  if (field === 'type') return 'ERR_SIGNAL_TYPE';
  if (field === 'topics' && issue.path?.length === 1 && Array.isArray(issue.input))
    return 'ERR_SIGNAL_TOO_MANY_TOPICS';
  if (issue.type === 'min_length' || issue.type === 'max_length') return 'ERR_SIGNAL_TOPIC_LENGTH';
  return 'ERR_SIGNAL_SHAPE';
}

/** A parser for the given limits (the schema is built once, here). Never throws. */
export function createSignalParser(limits: SignalLimits = DEFAULT_SIGNAL_LIMITS) {
  const schema = signalMessageSchema(limits);
  return function parseSignal(text: string): SignalParseResult {
    if (text.length > limits.maxTextLength)
      return refuse('ERR_SIGNAL_TOO_LARGE', `${text.length} characters > ${limits.maxTextLength}`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return refuse('ERR_SIGNAL_JSON', error instanceof Error ? error.message : 'not JSON');
    }
    if (json === null || typeof json !== 'object' || Array.isArray(json))
      return refuse('ERR_SIGNAL_TYPE', 'Expected a JSON object');
    const type = (json as { type?: unknown }).type;
    if (!SIGNAL_TYPES.has(type))
      return refuse('ERR_SIGNAL_TYPE', 'Expected type subscribe, unsubscribe, publish or ping');
    if (mayHoldProtoKey(text) && hasProtoKey(json)) return refuse('ERR_SIGNAL_PROTO', 'A "__proto__" key');
    const result = v.safeParse(schema, json, PARSE_CONFIG);
    if (result.success) return { ok: true, value: result.output };
    const issue = result.issues[0];
    return refuse(issueCode(issue), issue.message);
  };
}

/** Parses one frame's text with the default limits. Never throws. */
export const parseSignalMessage: (text: string) => SignalParseResult = createSignalParser();
