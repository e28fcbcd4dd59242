// The `spreadserve` command line: the same commands as Slack, for a terminal and for on-call
// when Slack is down. Acts as cli:<unix user> with the admin role.
// Exit codes: 0 done, 1 refused or failed, 2 bad usage.
import os from 'node:os';
import { errorReply, type PreparedCommand, prepare, runPrepared } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import { ConfigError, loadConfig } from '../core/config.ts';
import { createServices, type Services } from '../core/context.ts';
import { DockerEngine } from '../engine/docker.ts';
import { describeError, isUserError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { ConsoleNotifier } from './notifier.ts';
import { TerminalProgress } from './progress.ts';
import { replyToText } from './text.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  /** stderr is a terminal: progress is one line redrawn in place instead of a line per step. */
  stderrIsTTY?: boolean;
  /** The terminal's width, for that line. */
  columns?: number;
}

const exitCodeOf = (reply: Reply): number => (reply.ok ? 0 : reply.errorKind === 'usage' ? 2 : 1);

export const cliActorId = (): string => `cli:${os.userInfo().username}`;

/** Opens the core for a front end on this machine and reconciles the store with Docker. */
export async function openLocalServices(
  env: Record<string, string | undefined>,
  logTo?: 'stderr',
): Promise<Services> {
  const config = loadConfig(env);
  const log = createLogger(
    // In a terminal, replies say what happened; the log adds only errors unless LOG_LEVEL asks for more.
    config.logLevel === 'info' && logTo ? 'error' : config.logLevel,
    logTo ? process.stderr : undefined,
  );
  const engine = new DockerEngine({ dockerHost: config.dockerHost });
  // Reclaim warnings and the schedule's summaries are printed where the log goes (stderr).
  const notifier = new ConsoleNotifier((text) => process.stderr.write(text));
  const services = await createServices(config, { engine, log, notifier });
  if (services.store.writable) {
    // Not fatal: an unreachable engine is reported by the command that needs it (so only logged
    // at debug then: a warning line on stderr would just repeat that one-line error).
    await services.reconcile({ atStart: true }).catch((err) => {
      const unreachable = isUserError(err) && err.kind === 'engine-unreachable';
      log[unreachable ? 'debug' : 'warn']({ err: describeError(err) }, 'reconcile at start failed');
    });
  }
  return services;
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const json = argv.includes('--json');
  const rest = argv.filter((a) => a !== '--json');
  // `--help` / `-h` anywhere shows the help of the command named (`stop --help` is `help stop`);
  // it never runs the command: read as an argument, `stop --help` would stop an instance "help".
  const wantsHelp = rest.some((a) => a === '--help' || a === '-h');
  const args = wantsHelp ? ['help', ...rest.filter((a) => !a.startsWith('-')).slice(0, 1)] : rest;
  // Results on stdout; in text mode a refusal or error goes to stderr, so `spreadserve list > f`
  // never writes an error into f. With --json every reply is on stdout (`ok` says which).
  const finish = (reply: Reply): number => {
    if (json) io.stdout(`${JSON.stringify(reply, null, 2)}\n`);
    else (reply.ok ? io.stdout : io.stderr)(`${replyToText(reply)}\n`);
    return exitCodeOf(reply);
  };

  let prepared: PreparedCommand;
  try {
    prepared = prepare(args);
  } catch (err) {
    if (!isUserError(err)) throw err;
    return finish(errorReply(err, createLogger('silent')));
  }
  const actor = { id: cliActorId(), role: 'admin' as const };

  if (prepared.command.name === 'help') {
    // help reads only the command registry: it works anywhere, without a configuration, a
    // templates file, a store or Docker (and so it neither creates nor reconciles a store).
    const offline = { log: createLogger('silent') } as unknown as Services;
    return finish(await runPrepared(prepared, { actor, services: offline, prefix: 'spreadserve' }));
  }

  let services: Services;
  try {
    services = await openLocalServices(io.env, 'stderr');
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`${err.message}\n`);
      return 1;
    }
    if (isUserError(err)) return finish(errorReply(err, createLogger('silent')));
    throw err;
  }
  // Progress on stderr, a line per step (a redrawn line on a TTY); none with --json.
  const progress = json
    ? undefined
    : new TerminalProgress({ write: io.stderr, tty: io.stderrIsTTY === true, columns: io.columns });
  const reply = await runPrepared(prepared, {
    actor,
    services,
    prefix: 'spreadserve',
    progress: progress?.report,
  });
  progress?.done();
  return finish(reply);
}
