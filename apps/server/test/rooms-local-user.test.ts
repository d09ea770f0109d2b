/**
 * The one "local user" test (services/rooms/local-user.ts): a user ID's server part is what
 * follows its first colon (spec appendices "User Identifiers": a localpart has no colon), and
 * it must equal the server name exactly — a port is part of the name.
 */
import { describe, expect, it } from 'vitest';

import { isLocalUser } from '../src/services/rooms/local-user.ts';

describe('isLocalUser', () => {
  it('takes users whose server part is exactly the server name', () => {
    expect(isLocalUser('@alice:test.local', 'test.local')).toBe(true);
    expect(isLocalUser('@alice:test.local:8448', 'test.local:8448')).toBe(true);
    expect(isLocalUser('@a:[::1]:8448', '[::1]:8448')).toBe(true);
  });

  it('refuses other servers, ports, suffixes and colons in the localpart', () => {
    expect(isLocalUser('@alice:other.test', 'test.local')).toBe(false);
    expect(isLocalUser('@alice:test.local:8448', 'test.local')).toBe(false);
    expect(isLocalUser('@alice:test.local', 'test.local:8448')).toBe(false);
    // A name that ends with ours is not ours; neither is ours after a second colon.
    expect(isLocalUser('@alice:evil-test.local', 'test.local')).toBe(false);
    expect(isLocalUser('@alice:evil:test.local', 'test.local')).toBe(false);
    expect(isLocalUser('@alice', 'test.local')).toBe(false);
    expect(isLocalUser('test.local', 'test.local')).toBe(false);
  });
});
