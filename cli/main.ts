// The `spreadserve` command line: the same commands as Slack, for a terminal and for on-call
// when Slack is down. Acts as cli:<unix user> with the admin role.
// Exit codes: 0 done, 1 refused or failed, 2 bad usage.
import os from 'node:os';
import { errorReply, type PreparedCommand, prepare, runPrepared } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import { ConfigError, loadConfig } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import { describeError, isUserError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { DockerEngine } from '../engine/docker.ts';
import { replyToText } from './text.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

export const exitCodeOf = (reply: Reply): number => (reply.ok ? 0 : reply.errorKind === 'usage' ? 2 : 1);

export const cliActorId = (): string => `cli:${os.userInfo().username}`;

/** Opens the core for a front end on this machine and reconciles the store with Docker. */
export async function openLocalServices(
  env: Record<string, string | undefined>,
  logTo?: 'stderr',
): Promise<Services> {
  const config = loadConfig(env);
  const log = createLogger(
    config.logLevel === 'info' && logTo ? 'warn' : config.logLevel,
    logTo ? process.stderr : undefined,
  );
  const services = await createServices(config, {
    engine: new DockerEngine({ dockerHost: config.dockerHost }),
    log,
  });
  if (services.store.writable) {
    // Not fatal: an unreachable engine is reported by the command that needs it.
    await services
      .reconcile({ atStart: true })
      .catch((err) => log.warn({ err: describeError(err) }, 'reconcile at start failed'));
  }
  return services;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json').map((a) => (a === '--help' || a === '-h' ? 'help' : a));
  const print = (reply: Reply) =>
    io.stdout(json ? `${JSON.stringify(reply, null, 2)}\n` : `${replyToText(reply)}\n`);

  let prepared: PreparedCommand;
  try {
    prepared = prepare(args);
  } catch (err) {
    if (!isUserError(err)) throw err;
    const reply = errorReply(err, createLogger('silent'));
    print(reply);
    return exitCodeOf(reply);
  }

  let services: Services;
  try {
    services = await openLocalServices(io.env, 'stderr');
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const reply = await runPrepared(prepared, {
    actor: { id: cliActorId(), role: 'admin' },
    services,
    prefix: 'spreadserve',
    progress: json ? undefined : (line) => io.stderr(`… ${line}\n`),
  });
  print(reply);
  return exitCodeOf(reply);
}
