// Bolt's and the Socket Mode client's log text, scrubbed before pino writes it: pino redacts
// fields, not words inside a message, so envelopes, response_urls and tokens are cut here.
import { describe, expect, it } from 'vitest';
import { scrubBoltLine } from '../../bot/app.ts';

const ENVELOPE = JSON.stringify({
  envelope_id: 'e1',
  payload: { token: 'legacy', response_url: 'https://hooks.slack.com/commands/T1/1/abc' },
});

describe('scrubBoltLine', () => {
  const payloadLines = [
    `Received a message on the WebSocket: ${ENVELOPE}`,
    `Sending a WebSocket message: ${ENVELOPE}`,
    `Calling ack() - type: slash_commands, envelope_id: e1, data: ${ENVELOPE}`,
    `Unable to parse an incoming WebSocket message (will ignore): SyntaxError, ${ENVELOPE}`,
    `http request result: ${ENVELOPE}`,
    ENVELOPE,
  ];
  for (const line of payloadLines) {
    it(`keeps the first words of "${line.slice(0, 30)}…" and drops the payload`, () => {
      const out = scrubBoltLine(line);
      expect(out).toMatch(/\[payload not logged\]$/);
      expect(out).not.toMatch(/response_url|hooks\.slack\.com|envelope_id: e1|legacy/);
    });
  }

  it('redacts tokens and hook URLs in other lines, and drops lines naming a response_url', () => {
    expect(scrubBoltLine('token xoxb-123-abc and xapp-1-A-xyz used')).toBe(
      'token [redacted] and [redacted] used',
    );
    expect(scrubBoltLine('posting to https://hooks.slack.com/actions/T/1/x now')).toBe(
      'posting to [redacted url] now',
    );
    expect(scrubBoltLine('respond failed for response_url=http://x/y')).toMatch(/^\[line not logged/);
  });

  it('leaves ordinary lines as they are', () => {
    for (const line of [
      'Listening for HTTP requests on port 3000',
      'Now connected to Slack',
      'Authorization of incoming event did not succeed. No listeners will be called.',
      "apiCall('chat.postMessage') start",
    ]) {
      expect(scrubBoltLine(line)).toBe(line);
    }
  });
});
