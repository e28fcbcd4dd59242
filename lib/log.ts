// JSON-lines logging (pino) with tokens and secrets redacted.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'spreadserve' },
      redact: {
        paths: [
          '*.token',
          '*.botToken',
          '*.appToken',
          '*.signingSecret',
          'token',
          'headers.authorization',
          '*.headers.authorization',
          'headers["x-slack-signature"]',
          'body.token',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

export const silentLogger = (): Logger => pino({ level: 'silent' });
