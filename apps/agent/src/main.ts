import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { AgentLifecycle, AgentModule, createAgentLogger } from './agent.module';
import { FlagError, USAGE, parseAgentFlags, type AgentConfig } from './config/config';

/**
 * berth-agent: the node agent. Prints exactly one line on stdout once its Node is registered and
 * its pod watch is synced: `berth agent <node> ready`; logs go to stderr. SIGTERM/SIGINT stop the
 * agent; containers keep running (a restarted agent adopts them) unless --on-exit stop.
 */
async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  let cfg: AgentConfig & { token: string };
  try {
    cfg = parseAgentFlags(argv);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`berth-agent: error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createAgentLogger(cfg.logFormat);
  process.on('unhandledRejection', (e) =>
    log.error({ err: String((e as Error)?.stack ?? e) }, 'unhandled rejection'),
  );
  let app: INestApplicationContext | undefined;
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info(
      { signal, onExit: cfg.onExit },
      `shutting down; containers ${cfg.onExit === 'stop' ? 'are stopped' : 'keep running'}`,
    );
    // With --on-exit stop, pods get their grace period (30 s by default) before SIGKILL.
    const force = setTimeout(() => process.exit(1), cfg.onExit === 'stop' ? 90_000 : 15_000);
    force.unref();
    try {
      await app?.get(AgentLifecycle).stop();
      await app?.close();
      process.exit(0);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    if (process.getuid?.() !== 0) log.warn({}, 'not running as root: mounts, cgroups and runc will fail');
    app = await NestFactory.createApplicationContext(AgentModule.forConfig(cfg, log), { logger: false });
    await app.get(AgentLifecycle).start();
    if (stopping) return;
    process.stdout.write(`berth agent ${cfg.nodeName} ready\n`);
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'start-up failed');
    process.stderr.write(`berth-agent: error: ${(e as Error).message}\n`);
    process.exit(1);
  }
}

void main();
