/**
 * The X-Matrix Authorization header grammar: server-server API "Request Authentication"
 * (https://spec.matrix.org/v1.19/server-server-api/#request-authentication), RFC 9110 §11.4.
 */

import { formatXMatrixHeader, parseXMatrixHeader, TransportError } from '@weft/transport';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const SPEC_EXAMPLE =
  'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."';

function rejects(header: string): TransportError {
  try {
    parseXMatrixHeader(header);
  } catch (error) {
    if (TransportError.isInstance(error)) {
      expect(error.code).toBe('bad-header');
      return error;
    }
    throw error;
  }
  throw new Error(`accepted: ${header}`);
}

describe('parseXMatrixHeader', () => {
  it('parses the spec example', () => {
    expect(parseXMatrixHeader(SPEC_EXAMPLE)).toEqual({
      origin: 'origin.hs.example.com',
      destination: 'destination.hs.example.com',
      key: 'ed25519:key1',
      sig: 'ABCDEF...',
    });
  });

  it('accepts parameters in any order, mixed-case names and a mixed-case scheme', () => {
    expect(
      parseXMatrixHeader('x-matrix SIG="s",Key="ed25519:k",Destination="d.org",ORIGIN="o.org"'),
    ).toEqual({ origin: 'o.org', destination: 'd.org', key: 'ed25519:k', sig: 's' });
  });

  it('accepts unquoted token values, with colons and slashes for older senders', () => {
    expect(parseXMatrixHeader('X-Matrix origin=o.org:8448,key=ed25519:k,sig=ab+c/d')).toEqual({
      origin: 'o.org:8448',
      key: 'ed25519:k',
      sig: 'ab+c/d',
    });
  });

  it('accepts spaces and tabs around commas and several spaces after the scheme', () => {
    expect(parseXMatrixHeader('X-Matrix   origin="o" \t, key = "ed25519:k" ,\tsig="s"  ')).toEqual({
      origin: 'o',
      key: 'ed25519:k',
      sig: 's',
    });
  });

  it('unescapes backslash pairs in quoted values', () => {
    expect(parseXMatrixHeader('X-Matrix origin="a\\"b\\\\c\\d",key="k",sig="s"').origin).toBe(
      'a"b\\cd',
    );
  });

  it('ignores unknown parameters and empty list elements', () => {
    expect(parseXMatrixHeader('X-Matrix ,origin="o",,foo="bar",key="k",sig="s",')).toEqual({
      origin: 'o',
      key: 'k',
      sig: 's',
    });
  });

  it('leaves destination out when the sender did (older servers)', () => {
    expect('destination' in parseXMatrixHeader('X-Matrix origin=o,key=k,sig=s')).toBe(false);
  });

  it('rejects other schemes and malformed lists', () => {
    rejects('Bearer abc');
    rejects('X-Matrix');
    rejects('X-Matrixorigin="o",key="k",sig="s"');
    rejects('X-Matrix origin="o" key="k",sig="s"');
    rejects('X-Matrix origin="o,key="k",sig="s"');
    rejects('X-Matrix origin=,key="k",sig="s"');
    rejects('X-Matrix ="o",key="k",sig="s"');
    rejects('X-Matrix origin"o",key="k",sig="s"');
    rejects('X-Matrix origin="o\u0001",key="k",sig="s"');
    rejects('X-Matrix origin="o",key="k",sig="s\\');
  });

  it('rejects a missing origin, key or sig, and a repeated parameter', () => {
    expect(rejects('X-Matrix key="k",sig="s"').message).toContain('origin');
    expect(rejects('X-Matrix origin="o",sig="s"').message).toContain('key');
    expect(rejects('X-Matrix origin="o",key="k"').message).toContain('sig');
    expect(rejects('X-Matrix origin="o",key="k",sig="s",ORIGIN="p"').message).toContain('repeated');
  });

  it('never quotes the signature in an error message', () => {
    expect(rejects('X-Matrix origin="o",key="k",sig="SECRETSIG" junk').message).not.toContain(
      'SECRETSIG',
    );
  });

  it('throws TypeError for a non-string', () => {
    expect(() => parseXMatrixHeader(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('formatXMatrixHeader', () => {
  it('formats like the spec example (one space, lower-case names, no spaces, all quoted)', () => {
    expect(
      formatXMatrixHeader({
        origin: 'origin.hs.example.com',
        destination: 'destination.hs.example.com',
        key: 'ed25519:key1',
        sig: 'ABCDEF...',
      }),
    ).toBe(SPEC_EXAMPLE);
  });

  it('escapes quotes and backslashes and refuses control characters', () => {
    const header = formatXMatrixHeader({ origin: 'a"b\\c', destination: 'd', key: 'k', sig: 's' });
    expect(header).toBe('X-Matrix origin="a\\"b\\\\c",destination="d",key="k",sig="s"');
    expect(() =>
      formatXMatrixHeader({ origin: 'a\nb', destination: 'd', key: 'k', sig: 's' }),
    ).toThrow(TransportError);
    expect(() => formatXMatrixHeader({ origin: '', destination: 'd', key: 'k', sig: 's' })).toThrow(
      TypeError,
    );
  });

  it('round-trips through parseXMatrixHeader for any printable values', () => {
    const value = fc
      .string({ minLength: 1, maxLength: 40 })
      .filter((s) => /^[\x20-\x7e]+$/.test(s));
    fc.assert(
      fc.property(value, value, value, value, (origin, destination, key, sig) => {
        const params = { origin, destination, key, sig };
        expect(parseXMatrixHeader(formatXMatrixHeader(params))).toEqual(params);
      }),
      { numRuns: 300 },
    );
  });

  it('parses every permutation and quoting of the same parameters to the same result', () => {
    const params = [
      ['origin', 'o.example'],
      ['destination', 'd.example'],
      ['key', 'ed25519:a_1'],
      ['sig', 'AbC+/9'],
    ] as const;
    fc.assert(
      fc.property(
        fc.shuffledSubarray([...params], { minLength: 4, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.array(fc.constantFrom('', ' ', '\t', ' \t '), { minLength: 4, maxLength: 4 }),
        (order, quoted, spaces) => {
          const list = order
            .map(([name, value], i) => {
              const rendered = quoted[i] ? `"${value}"` : value;
              return `${i % 2 ? name.toUpperCase() : name}=${rendered}`;
            })
            .join(`${spaces[0]},${spaces[1]}`);
          expect(parseXMatrixHeader(`X-Matrix ${list}`)).toEqual({
            origin: 'o.example',
            destination: 'd.example',
            key: 'ed25519:a_1',
            sig: 'AbC+/9',
          });
        },
      ),
    );
  });
});
