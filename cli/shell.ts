// The local shell: `npm start` without Slack credentials (in the spirit of Hubot's shell
// adapter). A prompt taking the same commands as Slack and printing the same replies as text,
// with the reclaim schedule running as it would in the bot (its warnings printed).
import readline from 'node:readline';
import { dispatch } from '../commands/index.ts';
import type { Config } from '../core/config.ts';
import type { Services } from '../core/context.ts';
import type { Actor } from '../core/policy.ts';
import { cliActor, openLocalServices, terminalLogger } from './local.ts';
import { stepLine } from './progress.ts';
import { replyToText } from './text.ts';

/** Composition root of the shell: the core with its schedule, the prompt, then a clean stop. */
export async function runLocalShell(config: Config): Promise<void> {
  const services = await openLocalServices(config, { log: terminalLogger(config), scheduled: true });
  await services.start();
  // SIGTERM (systemd, docker stop) stops as the bot does: launches in flight undone, a running
  // reclaim pass finished, the store's last write flushed, all within stop()'s bound.
  process.once('SIGTERM', () => {
    void services.stop().then(() => process.exit(0));
  });
  await runShell(services, cliActor());
  await services.stop(); // waits for a running reclaim pass
}

export async function runShell(
  services: Services,
  actor: Actor,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const rl = readline.createInterface({
    input,
    output,
    terminal: (output as { isTTY?: boolean }).isTTY === true,
  });
  const say = (text: string) => output.write(`${text}\n`);
  say(`SpreadServe local shell (no Slack credentials set). You are ${actor.id} (admin). Type help, or exit.`);
  rl.setPrompt('spreadserve> ');
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim().replace(/^\/spreadserve\s*/, '');
    if (text === 'exit' || text === 'quit') break;
    if (text !== '') {
      const reply = await dispatch(text, {
        actor,
        services,
        prefix: '',
        log: services.log,
        progress: (line, step) => say(`… ${stepLine(line, step)}`),
      });
      say(replyToText(reply, services.clock.now()));
    }
    rl.prompt();
  }
  rl.close();
}
