// The `spreadserve` command line: the same commands as Slack, for a terminal and for on-call
// when Slack is down. Acts as cli:<unix user> with the admin role.
// Exit codes: 0 done, 1 refused or failed, 2 bad usage.
import { errorReply, type PreparedCommand, prepare, runPrepared } from '../commands/index.ts';
import type { Reply } from '../commands/reply.ts';
import { ConfigError, loadConfig } from '../core/config.ts';
import type { Services } from '../core/context.ts';
import { isUserError } from '../lib/errors.ts';
import { createLogger } from '../lib/log.ts';
import { cliActor, openLocalServices, terminalLogger } from './local.ts';
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
  const actor = cliActor();
  if (prepared.command.offline) {
    // help reads only the command registry: it works anywhere, without a configuration, a
    // templates file, a store or Docker (and so it neither creates nor reconciles a store).
    return finish(await runPrepared(prepared, { actor, prefix: 'spreadserve', log: createLogger('silent') }));
  }

  let services: Services;
  try {
    const config = loadConfig(io.env);
    services = await openLocalServices(config, { log: terminalLogger(config) });
    await services.start();
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
    log: services.log,
    progress: progress?.report,
  });
  progress?.done();
  await services.stop();
  return finish(reply);
}
