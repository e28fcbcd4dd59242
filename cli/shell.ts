// The local shell: `npm start` without Slack credentials (in the spirit of Hubot's shell
// adapter). A prompt taking the same commands as Slack and printing the same replies as text.
import readline from 'node:readline';
import { dispatch } from '../commands/index.ts';
import type { Services } from '../core/context.ts';
import { stepLine } from './progress.ts';
import { replyToText } from './text.ts';

export async function runShell(
  services: Services,
  actorId: string,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const rl = readline.createInterface({
    input,
    output,
    terminal: (output as { isTTY?: boolean }).isTTY === true,
  });
  const say = (text: string) => output.write(`${text}\n`);
  say(`SpreadServe local shell (no Slack credentials set). You are ${actorId} (admin). Type help, or exit.`);
  rl.setPrompt('spreadserve> ');
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim().replace(/^\/spreadserve\s*/, '');
    if (text === 'exit' || text === 'quit') break;
    if (text !== '') {
      const reply = await dispatch(text, {
        actor: { id: actorId, role: 'admin' },
        services,
        prefix: '',
        progress: (line, step) => say(`… ${stepLine(line, step)}`),
      });
      say(replyToText(reply, services.clock.now()));
    }
    rl.prompt();
  }
  rl.close();
}
