// The registry and the one dispatch every front end (Slack, CLI, local shell) goes through.
import type { Core } from '../core/context.ts';
import { isUserError, logInternal, usageError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import { build } from './build.ts';
import { extend } from './extend.ts';
import { give } from './give.ts';
import { helpCommand } from './help.ts';
import { history } from './history.ts';
import { launch } from './launch.ts';
import { list } from './list.ts';
import { logs } from './logs.ts';
import { parseFlags, shown, tokenize } from './parse.ts';
import { reclaim } from './reclaim.ts';
import type { Reply } from './reply.ts';
import { save } from './save.ts';
import { status } from './status.ts';
import { stop } from './stop.ts';
import { templates } from './templates.ts';
import type { BaseContext, BoundRun, Command, CommandContext } from './types.ts';
import { usageCommand } from './usage.ts';

const help = helpCommand(() => COMMANDS);

/** Every subcommand, in the order help shows them. */
export const COMMANDS: readonly Command[] = [
  help,
  templates,
  build,
  save,
  launch,
  list,
  stop,
  extend,
  give,
  logs,
  status,
  reclaim,
  history,
  usageCommand,
];

const byName = new Map<string, Command>();
for (const command of COMMANDS) {
  if (byName.has(command.name)) throw new Error(`two commands are named ${command.name}`);
  byName.set(command.name, command);
}

export function findCommand(name: string): Command | undefined {
  return byName.get(name);
}

/** A command ready to run: parsed and validated, no I/O done yet. */
export interface PreparedCommand {
  command: Command;
  bound: BoundRun;
}

/** Parses text (or tokens) into a prepared command; throws a usage UserError. No I/O. */
export function prepare(input: string | readonly string[]): PreparedCommand {
  const tokens = typeof input === 'string' ? tokenize(input) : input;
  const [name = 'help', ...rest] = tokens;
  const command = byName.get(name.toLowerCase());
  if (!command) {
    throw usageError(
      `There is no command "${shown(name)}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}.`,
    );
  }
  return { command, bound: command.bind(parseFlags(command.name, rest, command.flags)) };
}

/** Turns any thrown value into a reply: UserError text as is, anything else as an apology with a ref. */
export function errorReply(err: unknown, log: Logger, context: Record<string, unknown> = {}): Reply {
  if (isUserError(err)) {
    return {
      kind: 'message',
      ok: false,
      visibility: 'ephemeral',
      summary: err.message,
      details: err.details.length ? [...err.details] : undefined,
      errorKind: err.kind,
    };
  }
  const ref = logInternal(err, log, context, 'command failed');
  return {
    kind: 'message',
    ok: false,
    visibility: 'ephemeral',
    summary: `Something went wrong (ref ${ref}); the details are in the bot's log.`,
    errorKind: 'internal',
  };
}

/** Parse, run and funnel errors: never throws. */
export async function dispatch(input: string | readonly string[], ctx: CommandContext): Promise<Reply> {
  let prepared: PreparedCommand;
  try {
    prepared = prepare(input);
  } catch (err) {
    return errorReply(err, ctx.log);
  }
  return runPrepared(prepared, ctx);
}

/**
 * Runs a prepared command and funnels its errors: never throws. An offline command (help) runs
 * without services; any other needs them.
 */
export async function runPrepared(
  prepared: PreparedCommand,
  ctx: BaseContext & { services?: Core },
): Promise<Reply> {
  const { bound } = prepared;
  try {
    if (bound.offline) return await bound.run(ctx);
    const { services } = ctx;
    if (!services) throw new Error(`${prepared.command.name} was run without the core services`);
    return await bound.run({ ...ctx, services });
  } catch (err) {
    return errorReply(err, ctx.log, { command: prepared.command.name, actor: ctx.actor.id });
  }
}
