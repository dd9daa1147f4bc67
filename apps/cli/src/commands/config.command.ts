import path from 'node:path';
import { Command } from 'commander';
import { configPath, loadConfig, saveConfig, upsertContext, type BerthConfig } from '@berth/client';
import { toYaml } from '@berth/api';
import { CliError, EXIT } from '../errors';
import type { CliIO } from '../io';
import { formatTable } from '../printers';

export function registerConfig(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const file = () => configPath(io.env);
  const config = program
    .command('config')
    .description(`Show or change the contexts in the config file ($BERTH_CONFIG or ~/.berth/config)`);

  config
    .command('view')
    .description('Print the config file (tokens redacted unless --raw)')
    .option('--raw', 'show tokens')
    .action((opts: { raw?: boolean }) => {
      const cfg = loadConfig(file());
      const shown: BerthConfig = {
        ...cfg,
        contexts: cfg.contexts.map((c) => (c.token && !opts.raw ? { ...c, token: 'REDACTED' } : c)),
      };
      io.out(toYaml(shown));
    });

  config
    .command('get-contexts')
    .description('List the contexts; * marks the current one')
    .action(() => {
      const cfg = loadConfig(file());
      if (!cfg.contexts.length) {
        io.err(`No contexts in ${file()}; add one with \`berthctl config set-context NAME --server URL\`\n`);
        return;
      }
      const rows = [
        ['CURRENT', 'NAME', 'SERVER', 'NAMESPACE'],
        ...cfg.contexts.map((c) => [
          c.name === cfg.currentContext ? '*' : '',
          c.name,
          c.server,
          c.namespace ?? '',
        ]),
      ];
      io.out(formatTable(rows).text);
    });

  config
    .command('current-context')
    .description('Print the name of the current context')
    .action(() => {
      const cfg = loadConfig(file());
      if (!cfg.currentContext)
        throw new CliError(
          'current-context is not set',
          EXIT.NOT_FOUND,
          'choose one with `berthctl config use-context NAME`',
        );
      io.out(cfg.currentContext + '\n');
    });

  config
    .command('use-context')
    .description('Make a context the current one')
    .argument('<name>')
    .action((name: string) => {
      const cfg = loadConfig(file());
      if (!cfg.contexts.some((c) => c.name === name))
        throw new CliError(
          `no context exists with the name "${name}"`,
          EXIT.NOT_FOUND,
          'list them with `berthctl config get-contexts`',
        );
      saveConfig({ ...cfg, currentContext: name }, file());
      io.out(`Switched to context "${name}".\n`);
    });

  config
    .command('set-context')
    .description('Create or change a context')
    .argument('<name>')
    .option('--server <url>', 'API server URL, e.g. http://127.0.0.1:6443')
    .option('--token <token>', 'bearer token')
    .option('--token-file <file>', 'file holding the bearer token')
    .option('--namespace <ns>', 'default namespace of the context')
    .option('--certificate-authority <file>', 'CA certificate (PEM) that signed an https server')
    .option('--current', 'also make it the current context')
    .action((name: string, _opts: unknown, cmd: Command) => {
      // --server, --token and -n/--namespace are also program options (which take them first).
      const opts = cmd.optsWithGlobals<{
        server?: string;
        token?: string;
        tokenFile?: string;
        namespace?: string;
        certificateAuthority?: string;
        current?: boolean;
      }>();
      const ns = opts.namespace;
      const cfg = loadConfig(file());
      const existing = cfg.contexts.find((c) => c.name === name);
      const server = opts.server ?? existing?.server;
      if (!server) throw new CliError(`context "${name}" needs a server`, EXIT.USAGE, 'pass --server URL');
      try {
        new URL(server);
      } catch {
        throw new CliError(
          `--server "${server}" is not a URL`,
          EXIT.USAGE,
          'e.g. --server http://127.0.0.1:6443',
        );
      }
      const ctx = { ...existing, name, server };
      if (opts.token !== undefined) ctx.token = opts.token;
      if (opts.tokenFile !== undefined) ctx.tokenFile = opts.tokenFile;
      if (ns !== undefined) ctx.namespace = ns;
      if (opts.certificateAuthority !== undefined) {
        ctx.certificateAuthority = path.resolve(opts.certificateAuthority);
        delete ctx.certificateAuthorityData;
      }
      let next = upsertContext(cfg, ctx);
      if (opts.current || !cfg.currentContext) next = { ...next, currentContext: name };
      saveConfig(next, file());
      io.out(`Context "${name}" ${existing ? 'modified' : 'created'}.\n`);
    });
  void setExit;
}
