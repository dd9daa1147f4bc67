import { Command } from 'commander';
import { CommandContext } from '../context';
import { messageOf } from '../errors';
import type { CliIO } from '../io';

export const CLI_VERSION = '0.1.0';

export function registerVersion(program: Command, io: CliIO): void {
  program
    .command('version')
    .description('Print the client version, and the server version when it answers')
    .option('--client', 'only the client version (no server call)')
    .action(async function (this: Command, opts: { client?: boolean }) {
      io.out(`Client Version: v${CLI_VERSION}\n`);
      if (opts.client) return;
      const ctx = CommandContext.of(this, io);
      try {
        const v = await ctx.client.version();
        io.out(`Server Version: ${v.gitVersion ?? v.version ?? JSON.stringify(v)}\n`);
      } catch (e) {
        io.err(`warning: no server version: ${messageOf(e)}\n`);
      }
    });
}
