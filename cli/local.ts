// The core for a front end in a terminal (the `spreadserve` CLI, the local shell): logs on
// stderr, only errors unless LOG_LEVEL asks for more (replies say what happened), and reclaim
// warnings and summaries printed there too, since there is no Slack to DM.
import os from 'node:os';
import type { Config } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import { createLogger, type Logger } from '../lib/log.ts';
import { ConsoleNotifier } from './notifier.ts';

/** Who a terminal user is to the bot: cli:<unix user>, with the admin role. */
export const cliActor = () => ({ id: `cli:${os.userInfo().username}`, role: 'admin' as const });

export function terminalLogger(config: Config): Logger {
  return createLogger(config.logLevel === 'info' ? 'error' : config.logLevel, process.stderr);
}

export function openLocalServices(
  config: Config,
  options: { log: Logger; scheduled?: boolean },
): Promise<Services> {
  return createServices(config, {
    log: options.log,
    notifier: new ConsoleNotifier((text) => process.stderr.write(text)),
    scheduled: options.scheduled,
  });
}
