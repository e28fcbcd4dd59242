// HTTP_BIND: unset means all interfaces (Bolt's default); an IP address binds the bot's HTTP
// server to it; anything else stops the bot with a message naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../core/config.ts';

describe('HTTP_BIND', () => {
  it('is unset by default and when empty (all interfaces)', () => {
    expect(loadConfig({}).httpBind).toBeUndefined();
    expect(loadConfig({ HTTP_BIND: '' }).httpBind).toBeUndefined();
  });

  it('takes an IPv4 or IPv6 address', () => {
    expect(loadConfig({ HTTP_BIND: '127.0.0.1' }).httpBind).toBe('127.0.0.1');
    expect(loadConfig({ HTTP_BIND: '::1' }).httpBind).toBe('::1');
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => loadConfig({ HTTP_BIND: 'localhost:3000' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP_BIND: 'localhost:3000' })).toThrow(
      /HTTP_BIND: expected an IP address like 127\.0\.0\.1 or ::1, or empty/,
    );
  });
});
