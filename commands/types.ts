import type { z } from 'zod';
import type { Core } from '../core/context.ts';
import type { Actor } from '../core/policy.ts';
import type { Logger } from '../lib/log.ts';
import type { FlagSpec, RawArgs } from './parse.ts';
import type { Reply } from './reply.ts';

/** Where long work is: step `index` (1-based) of `total`. */
export interface ProgressStep {
  index: number;
  total: number;
}

/** What every command gets, even one that needs no services (help). */
export interface BaseContext {
  actor: Actor;
  /** How users type commands here, for hints: "/spreadserve" in Slack, "spreadserve" in a terminal. */
  prefix: string;
  /** Where failures are logged under their ref. */
  log: Logger;
  /** Progress lines of long work (build, launch), as they happen; `step` is the counter when known. */
  progress?: (line: string, step?: ProgressStep) => void;
}

export interface CommandContext extends BaseContext {
  services: Core;
}

/** What transports read to treat a command its own way, instead of branching on its name. */
export interface CommandTraits {
  name: string;
  /** e.g. "launch [template] [--name NAME] [--ttl DURATION]" */
  usage: string;
  summary: string;
  who: 'anyone' | 'user' | 'owner or admin' | 'admin';
  flags: FlagSpec;
  /**
   * Set on long work (build, launch, stop): Slack's ack says "⏳ <working> <args>…" at once, and
   * the result follows through response_url.
   */
  working?: string;
  /** Its steps are shown in one message updated as it goes (Slack), not only as lines. */
  stepProgress?: true;
  /** A success counts in this /metrics counter too. */
  counter?: 'launches' | 'stops';
}

interface OnlineDef<A> extends CommandTraits {
  offline?: false;
  schema: z.ZodType<A, RawArgs>;
  run(args: A, ctx: CommandContext): Promise<Reply>;
}

/**
 * Needs no services (no configuration, store or Docker): Slack answers it in the ack, and the CLI
 * runs it anywhere.
 */
interface OfflineDef<A> extends CommandTraits {
  offline: true;
  schema: z.ZodType<A, RawArgs>;
  run(args: A, ctx: BaseContext): Promise<Reply>;
}

export type CommandDef<A> = OnlineDef<A> | OfflineDef<A>;

/** Validated arguments bound to their command: ready to run, no I/O done yet. */
export type BoundRun =
  | { offline: true; run(ctx: BaseContext): Promise<Reply> }
  | { offline: false; run(ctx: CommandContext): Promise<Reply> };

/** A command with its argument type hidden, so the registry can hold them all. */
export interface Command extends CommandTraits {
  offline: boolean;
  /** Validates raw args; returns the run, or throws a usage UserError. */
  bind(raw: RawArgs): BoundRun;
}
