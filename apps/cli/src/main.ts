import { Command, CommanderError } from 'commander';
import { registerApply } from './commands/apply.command';
import { registerConfig } from './commands/config.command';
import { registerCordon } from './commands/cordon.command';
import { registerDelete } from './commands/delete.command';
import { registerDescribe } from './commands/describe.command';
import { registerDrain } from './commands/drain.command';
import { registerEvents } from './commands/events.command';
import { registerExec } from './commands/exec.command';
import { registerGet } from './commands/get.command';
import { registerImages } from './commands/images.command';
import { registerLogs } from './commands/logs.command';
import { registerRollout } from './commands/rollout.command';
import { registerScale } from './commands/scale.command';
import { registerSync } from './commands/sync.command';
import { registerUp } from './commands/up.command';
import { CLI_VERSION, registerVersion } from './commands/version.command';
import { EXIT, EXIT_CODES_HELP, exitCodeFor, hintFor, messageOf } from './errors';
import { processIO, type CliIO } from './io';

/** Builds berthctl's command tree. `setExit` records the exit code a command chose. */
export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command('berthctl');
  program
    .description('berthctl controls a Berth cluster (a Kubernetes-style container orchestrator)')
    .version(CLI_VERSION, '--version', 'print the client version')
    .option('--server <url>', 'API server URL (default: BERTH_SERVER, else the current context)')
    .option('--token <token>', 'bearer token (default: BERTH_TOKEN, else the current context)')
    .option('-n, --namespace <namespace>', 'namespace (default: the context\'s, else "default")')
    .option('--context <name>', 'use this context of the config file')
    .option(
      '--certificate-authority <file>',
      "CA certificate (PEM) to trust for an https server (default: BERTH_CA_FILE, else the context's)",
    )
    .option(
      '--request-timeout <duration>',
      'give up on a request after this long, e.g. 30s, 2m; 0 = never',
      '30s',
    )
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      outputError: (s, write) => write(s),
    })
    .showHelpAfterError('(add --help for usage)')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Configuration: flags (--server, --token, --certificate-authority) > environment (BERTH_SERVER,
BERTH_TOKEN, BERTH_CA_FILE) > the current context of $BERTH_CONFIG (default ~/.berth/config).

${EXIT_CODES_HELP}`,
    );
  registerApply(program, io, setExit);
  registerGet(program, io, setExit);
  registerDescribe(program, io, setExit);
  registerDelete(program, io, setExit);
  registerScale(program, io, setExit);
  registerRollout(program, io, setExit);
  registerCordon(program, io, setExit);
  registerDrain(program, io, setExit);
  registerEvents(program, io, setExit);
  registerLogs(program, io, setExit);
  registerExec(program, io, setExit);
  registerSync(program, io, setExit);
  registerImages(program, io, setExit);
  registerConfig(program, io, setExit);
  registerUp(program, io, setExit);
  registerVersion(program, io);
  return program;
}

/** Runs berthctl with these arguments (without node and the script); resolves with the exit code. */
export async function run(argv: string[], io: CliIO = processIO()): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return EXIT.OK;
      if (e.code === 'commander.help' || e.code === 'commander.executeSubCommandAsync')
        return e.exitCode ? EXIT.USAGE : EXIT.OK;
      return EXIT.USAGE;
    }
    io.err(`error: ${messageOf(e)}\n`);
    const hint = hintFor(e);
    if (hint) io.err(hint + '\n');
    return exitCodeFor(e);
  }
}

if (require.main === module) {
  void run(process.argv.slice(2)).then((code) => {
    // Exit once stdout and stderr are flushed (they may be pipes), without waiting for idle sockets.
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}
