// Composition root of `npm start`: the Slack bot when Slack credentials are set, otherwise the
// local shell taking the same commands.
import { cliActorId, openLocalServices } from '../cli/main.ts';
import { runShell } from '../cli/shell.ts';
import { ConfigError, environment, hasSlackCredentials, loadConfig } from '../core/config.ts';

async function main(): Promise<void> {
  const env = environment();
  const config = loadConfig(env);
  if (hasSlackCredentials(config)) {
    const { startSlackBot } = await import('./slack-app.ts');
    await startSlackBot(config);
    return;
  }
  const services = await openLocalServices(env, 'stderr');
  await runShell(services, cliActorId());
  process.exit(0);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else {
    process.stderr.write(`SpreadServe could not start: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
  process.exit(1);
});
