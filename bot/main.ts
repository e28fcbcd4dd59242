// Composition root of `npm start`: the Slack bot when Slack credentials are set, otherwise the
// local shell taking the same commands.
import { cliActorId, openLocalServices } from '../cli/main.ts';
import { runShell } from '../cli/shell.ts';
import { ConfigError, environment, hasSlackCredentials, loadConfig } from '../core/config.ts';
import { startReclaimSchedule } from './scheduler.ts';

async function main(): Promise<void> {
  const env = environment();
  const config = loadConfig(env);
  if (hasSlackCredentials(config)) {
    const { startSlackBot } = await import('./slack-app.ts');
    await startSlackBot(config);
    return;
  }
  const services = await openLocalServices(env, 'stderr');
  // The schedule runs with the shell too; its warnings and summaries are printed (cli/notifier.ts).
  const schedule = startReclaimSchedule({
    cron: config.reclaim.cron,
    reclaimer: services.reclaimer,
    log: services.log,
  });
  services.nextReclaimAt = () => schedule.nextRunAt();
  await runShell(services, cliActorId());
  await schedule.stop(); // waits for a running pass
  await services.store.flushed();
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
