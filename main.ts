// `npm start`: the process root. Reads the configuration once, then runs the Slack bot when
// Slack credentials are set, otherwise the local shell taking the same commands. The two front
// ends never import each other; this is the one place that knows both.
import { runSlackBot } from './bot/main.ts';
import { runLocalShell } from './cli/shell.ts';
import { ConfigError, environment, hasSlackCredentials, loadConfig } from './core/config.ts';
import { UserError } from './lib/errors.ts';
import { createLogger } from './lib/log.ts';

async function main(): Promise<void> {
  const config = loadConfig(environment());
  if (hasSlackCredentials(config)) {
    await runSlackBot(config, createLogger(config.logLevel));
    return;
  }
  await runLocalShell(config);
  process.exit(0);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
  } else if (err instanceof UserError) {
    // A sentence the operator can act on (a TLS file missing, a bad DOCKER_HOST): no stack.
    process.stderr.write(`SpreadServe could not start: ${err.message}\n`);
  } else {
    process.stderr.write(`SpreadServe could not start: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
  process.exit(1);
});
