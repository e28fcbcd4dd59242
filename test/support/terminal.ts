// The environment of a terminal front end run as a child process (the `spreadserve` bin, the
// local shell): the caller's, without any setting of the machine running the tests, then the
// test file's own store, port range, scope and templates, and no Slack credentials.
import path from 'node:path';

export interface TerminalEnvOptions {
  /** Where the store (store.json) and templates.yml are. */
  dir: string;
  scope: string;
  firstPort: number;
  lastPort: number;
  extra?: NodeJS.ProcessEnv;
}

export function terminalEnv(options: TerminalEnvOptions): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Settings of the machine running the tests must not leak in (DOCKER_HOST may: it is the engine).
    if (
      /^(SLACK_|SPREADSERVE_|LOG_LEVEL$|MAX_|RECLAIM_|IDLE_|OPS_CHANNEL$|HTTP_PORT$|BUILD_TIMEOUT$)/.test(key)
    )
      continue;
    base[key] = value;
  }
  return {
    ...base,
    SPREADSERVE_DATA: path.join(options.dir, 'store.json'),
    SPREADSERVE_PORTS: `${options.firstPort}-${options.lastPort}`,
    SPREADSERVE_BIND_IP: '127.0.0.1',
    SPREADSERVE_PUBLIC_URL: 'http://127.0.0.1',
    SPREADSERVE_SCOPE: options.scope,
    SPREADSERVE_TEMPLATES: path.join(options.dir, 'templates.yml'),
    // Set and empty: a .env file in the project cannot switch `npm start` to the Slack bot.
    SLACK_SIGNING_SECRET: '',
    SLACK_BOT_TOKEN: '',
    SLACK_APP_TOKEN: '',
    NO_COLOR: '1',
    ...options.extra,
  };
}
