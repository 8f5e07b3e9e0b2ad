// parseSignalMessage accepts the four y-webrtc messages and refuses everything else with a
// stable code, without throwing, whatever the text.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createSignalParser,
  DEFAULT_SIGNAL_LIMITS,
  parseSignalMessage,
  type SignalErrorCode,
} from '../../../protocol/signal-messages.ts';

const CODES: ReadonlySet<SignalErrorCode> = new Set<SignalErrorCode>([
  'ERR_SIGNAL_TOO_LARGE',
  'ERR_SIGNAL_JSON',
  'ERR_SIGNAL_PROTO',
  'ERR_SIGNAL_TYPE',
  'ERR_SIGNAL_SHAPE',
  'ERR_SIGNAL_TOPIC_LENGTH',
  'ERR_SIGNAL_TOO_MANY_TOPICS',
]);

function codeOf(text: string): SignalErrorCode | 'ok' {
  const result = parseSignalMessage(text);
  return result.ok ? 'ok' : result.error.code;
}

describe('parseSignalMessage', () => {
  it('accepts what y-webrtc providers send', () => {
    expect(parseSignalMessage('{"type":"subscribe","topics":["room-a","room-b"]}')).toEqual({
      ok: true,
      value: { type: 'subscribe', topics: ['room-a', 'room-b'] },
    });
    expect(parseSignalMessage('{"type":"subscribe","topics":[]}').ok).toBe(true);
    expect(parseSignalMessage('{"type":"unsubscribe","topics":["room-a"]}').ok).toBe(true);
    expect(parseSignalMessage('{"type":"ping"}')).toEqual({ ok: true, value: { type: 'ping' } });
    const announce = { type: 'publish', topic: 'room-a', data: { type: 'announce', from: 'peer-1' } };
    expect(parseSignalMessage(JSON.stringify(announce))).toEqual({ ok: true, value: announce });
    // Encrypted rooms publish base64 strings.
    expect(parseSignalMessage('{"type":"publish","topic":"r","data":"AAEC"}').ok).toBe(true);
  });

  it('refuses malformed and hostile messages with stable codes', () => {
    const longTopic = 'x'.repeat(DEFAULT_SIGNAL_LIMITS.maxTopicLength + 1);
    const manyTopics = Array.from(
      { length: DEFAULT_SIGNAL_LIMITS.maxTopicsPerMessage + 1 },
      (_, i) => `t${i}`,
    );
    const cases: [string, SignalErrorCode][] = [
      ['', 'ERR_SIGNAL_JSON'],
      ['{"type":"ping"', 'ERR_SIGNAL_JSON'],
      ['null', 'ERR_SIGNAL_TYPE'],
      ['[{"type":"ping"}]', 'ERR_SIGNAL_TYPE'],
      ['"ping"', 'ERR_SIGNAL_TYPE'],
      ['{"type":"launch"}', 'ERR_SIGNAL_TYPE'],
      ['{"topics":[]}', 'ERR_SIGNAL_TYPE'],
      ['{"type":"subscribe"}', 'ERR_SIGNAL_SHAPE'],
      ['{"type":"subscribe","topics":"room"}', 'ERR_SIGNAL_SHAPE'],
      ['{"type":"subscribe","topics":[1]}', 'ERR_SIGNAL_SHAPE'],
      ['{"type":"publish","data":1}', 'ERR_SIGNAL_SHAPE'],
      ['{"type":"publish","topic":7}', 'ERR_SIGNAL_SHAPE'],
      ['{"type":"publish","topic":""}', 'ERR_SIGNAL_TOPIC_LENGTH'],
      [JSON.stringify({ type: 'publish', topic: longTopic }), 'ERR_SIGNAL_TOPIC_LENGTH'],
      [JSON.stringify({ type: 'subscribe', topics: ['ok', longTopic] }), 'ERR_SIGNAL_TOPIC_LENGTH'],
      [JSON.stringify({ type: 'subscribe', topics: manyTopics }), 'ERR_SIGNAL_TOO_MANY_TOPICS'],
      ['{"type":"publish","topic":"r","data":{"__proto__":{"polluted":1}}}', 'ERR_SIGNAL_PROTO'],
      ['{"__proto__":1,"type":"ping"}', 'ERR_SIGNAL_PROTO'],
      ['{"type":"publish","topic":"r","data":[[{"_\\u005fproto__":1}]]}', 'ERR_SIGNAL_PROTO'],
      [`{"type":"ping","pad":"${'x'.repeat(DEFAULT_SIGNAL_LIMITS.maxTextLength)}"}`, 'ERR_SIGNAL_TOO_LARGE'],
    ];
    for (const [text, code] of cases)
      expect([text.slice(0, 60), codeOf(text)]).toEqual([text.slice(0, 60), code]);
  });

  it('checks an array length before looking at its items', () => {
    const parse = createSignalParser({ maxTextLength: 1e7, maxTopicLength: 8, maxTopicsPerMessage: 2 });
    const huge = JSON.stringify({ type: 'subscribe', topics: Array.from({ length: 200_000 }, () => 1) });
    const started = performance.now();
    expect(parse(huge)).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_TOO_MANY_TOPICS' } });
    // The array was still parsed by JSON.parse; the schema must not walk 200k items on top.
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('survives deep nesting without overflowing the stack', () => {
    const parse = createSignalParser({ maxTextLength: 1e6, maxTopicLength: 8, maxTopicsPerMessage: 2 });
    // The `\u` sends the text down the slow path that walks every object looking for `__proto__`.
    const deep = `{"type":"publish","topic":"r","data":${'[{"a":'.repeat(50_000)}1${'}]'.repeat(50_000)},"\\u0041":1}`;
    expect(parse(deep).ok).toBe(true);
    const hidden = `{"type":"publish","topic":"r","data":${'[{"a":'.repeat(50_000)}{"__proto__":1}${'}]'.repeat(50_000)}}`;
    expect(parse(hidden)).toMatchObject({ ok: false, error: { code: 'ERR_SIGNAL_PROTO' } });
  });

  it('never throws, whatever the text (property)', () => {
    const check = (text: string) => {
      const result = parseSignalMessage(text);
      if (!result.ok) expect(CODES.has(result.error.code)).toBe(true);
    };
    fc.assert(fc.property(fc.string({ unit: 'binary' }), check), { numRuns: 2_000 });
    fc.assert(fc.property(fc.json(), check), { numRuns: 2_000 });
    // Close to valid: right and wrong types in the right places, `__proto__` among the keys.
    const key = fc.constantFrom('type', 'topic', 'topics', 'data', '__proto__', 'clients');
    const type = fc.constantFrom('subscribe', 'unsubscribe', 'publish', 'ping', 'pong', '');
    fc.assert(
      fc.property(fc.dictionary(key, fc.oneof(type, fc.jsonValue(), fc.array(fc.string()))), (object) =>
        check(JSON.stringify(object)),
      ),
      { numRuns: 2_000 },
    );
  });

  it('returns valid messages as sent (property)', () => {
    const topic = fc.string({ minLength: 1, maxLength: DEFAULT_SIGNAL_LIMITS.maxTopicLength });
    const topics = fc.array(topic, { maxLength: DEFAULT_SIGNAL_LIMITS.maxTopicsPerMessage });
    const message = fc.oneof(
      fc.record({ type: fc.constant('subscribe'), topics }),
      fc.record({ type: fc.constant('unsubscribe'), topics }),
      fc.record({ type: fc.constant('publish'), topic, data: fc.jsonValue() }),
      fc.record({ type: fc.constant('ping') }),
    );
    fc.assert(
      fc.property(message, (value) => {
        // fc.jsonValue may produce -0, which JSON turns into 0: compare through JSON.
        const text = JSON.stringify(value);
        const result = parseSignalMessage(text);
        // fc.jsonValue can make a `__proto__` key now and then; nothing else may be refused.
        if (result.ok) expect(result.value).toEqual(JSON.parse(text));
        else expect([result.error.code, text.includes('"__proto__":')]).toEqual(['ERR_SIGNAL_PROTO', true]);
      }),
      { numRuns: 1_000 },
    );
  });
});
