/** The handshake's acceptance rule: the first hello with this launch's token AND the spawned pid; everything else is ignored. */
import { describe, expect, it } from 'vitest';

import { ProtocolError } from '../errors.js';
import { checkHello, isHelloFrame } from './handshake.js';
import { PROTOCOL_VERSION } from './protocol.js';

const TOKEN = 'a'.repeat(64);
const expected = { token: TOKEN, pid: 4242 };

function hello(fields: Record<string, unknown>): Buffer[] {
  const base = { v: PROTOCOL_VERSION, op: 'hello', token: TOKEN, pid: 4242, python: '3.11.7', torch: '2', devices: [], threads: 1, model_ops: true, model_ops_error: null, ranks: [{ rank: 0, pid: 4242 }] };
  return [Buffer.from(JSON.stringify({ ...base, ...fields }))];
}

describe('checkHello', () => {
  it('accepts the hello with the token and the spawned pid', () => {
    expect(checkHello(hello({}), expected, 'w')).toMatchObject({ pid: 4242 });
  });

  it('ignores a hello with the right token from another pid (a leaked token, or a wrapper that did not exec)', () => {
    expect(checkHello(hello({ pid: 4243 }), expected, 'w')).toBe('a hello with the token but from pid 4243, not the spawned pid 4242');
  });

  it('ignores a hello with a guessed token, garbage, and non-hellos', () => {
    expect(checkHello(hello({ token: 'b'.repeat(64) }), expected, 'w')).toBe("a hello without this launch's token");
    expect(checkHello([Buffer.from('\x00garbage')], expected, 'w')).toBe('not a JSON hello');
    expect(checkHello([Buffer.from('{"op":"ping"}')], expected, 'w')).toBe('not a hello');
  });

  it('a version mismatch from our own worker is a ProtocolError', () => {
    expect(() => checkHello(hello({ v: PROTOCOL_VERSION + 1 }), expected, 'w')).toThrow(ProtocolError);
  });

  it('isHelloFrame recognises any hello, for refusing hellos after the handshake', () => {
    expect(isHelloFrame(hello({ token: 'x' }))).toBe(true);
    expect(isHelloFrame([Buffer.from('{"v":1,"id":3,"ok":true,"result":{}}')])).toBe(false);
  });
});
