import type { z } from 'zod';
import type { Services } from '../core/context.ts';
import type { Actor } from '../core/policy.ts';
import type { FlagSpec, RawArgs } from './parse.ts';
import type { Reply } from './reply.ts';

/** Where long work is: step `index` (1-based) of `total`. */
export interface ProgressStep {
  index: number;
  total: number;
}

export interface CommandContext {
  actor: Actor;
  services: Services;
  /** Progress lines of long work (build, launch), as they happen; `step` is the counter when known. */
  progress?: (line: string, step?: ProgressStep) => void;
  /** How users type commands here, for hints: "/spreadserve" in Slack, "spreadserve" in a terminal. */
  prefix: string;
}

export interface CommandDef<A> {
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
  schema: z.ZodType<A, RawArgs>;
  run(args: A, ctx: CommandContext): Promise<Reply>;
}

/** A command with its argument type hidden, so the registry can hold them all. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  who: CommandDef<unknown>['who'];
  flags: FlagSpec;
  working?: string;
  /** Validates raw args; returns the run, or throws a usage UserError. */
  bind(raw: RawArgs): (ctx: CommandContext) => Promise<Reply>;
}
