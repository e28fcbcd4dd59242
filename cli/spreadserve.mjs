#!/usr/bin/env node
// The `spreadserve` bin: runs cli/main.ts through tsx, so no build step is needed.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('./main.ts');
const { environment } = await import('../core/config.ts');
const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: environment(),
});
process.exit(code);
