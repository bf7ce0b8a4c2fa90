#!/usr/bin/env node
// The recsignal command: runs the TypeScript sources through tsx, so a features.ts module given on
// the command line loads the same way the CLI itself does.
import { register } from 'tsx/esm/api';

register();
// Output piped into a reader that stops early (`| head`): stop quietly, as Unix tools do.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
