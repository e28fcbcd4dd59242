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
  stderrIsTTY: process.stderr.isTTY === true,
  columns: process.stderr.columns,
});
// Exit once stdout has taken everything: where pipes are asynchronous (macOS), an immediate
// process.exit() would cut a long --json output short.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
