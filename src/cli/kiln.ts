#!/usr/bin/env node
/**
 * `kiln`: one command per runbook step. Most talk to a running gateway; `kiln file …` works on
 * backup files with no gateway. See `kiln --help` and README, "Runbooks". Exit codes: ./exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { KILN_VERSION } from '../config/version';
import { CliError, ExitCode } from './exit-codes';
import { registerFileCommands } from './file.commands';
import { registerGatewayCommands } from './gateway.commands';

const program = new Command('kiln')
  .description('Kiln, the backup gateway of the Millennium Potters lending data, from a terminal')
  .version(KILN_VERSION)
  // Usage mistakes end with exit code 2, like every configuration mistake.
  .exitOverride()
  .configureOutput({ outputError: (text, write) => write(text) });
registerGatewayCommands(program);
registerFileCommands(program);

// Ctrl-C at a prompt or during an upload ends with 130; while a job is followed, the follower
// (which registered its own listener) says how to follow it again.
process.on('SIGINT', () => {
  if (process.listenerCount('SIGINT') > 1) return;
  process.stderr.write('\nkiln: stopped (Ctrl-C)\n');
  process.exit(ExitCode.INTERRUPTED);
});

let settled = false;
// A command whose streams stall would let the process end with code 0: never claim success for it.
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('kiln: the command stopped before it finished (an internal error); nothing was reported as done\n');
  process.exitCode = ExitCode.FAILED;
});

program
  .parseAsync(process.argv)
  .then(
    () => (settled = true),
    (err: unknown) => {
      settled = true;
      report(err);
    },
  );

function report(err: unknown): void {
  if (err instanceof CommanderError) {
    // --help and --version end with code 0 through here too.
    process.exitCode = err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  } else if (err instanceof CliError) {
    process.stderr.write(`kiln: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    // Not a failure the CLI knows: its stack helps whoever reports it.
    process.stderr.write(`kiln: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = ExitCode.FAILED;
  }
}
