import pino, { type Logger } from 'pino';
import { BerthClient } from '@berth/client';
import { FlagError } from '../config/config';
import { HOLLOW_USAGE, parseHollowFlags, type HollowConfig } from './hollow-flags';
import { startHollowNodes, type HollowNodes } from './hollow-nodes';

/**
 * berth hollow nodes: N simulated nodes in one process, for scale tests only.
 *   node dist/apps/agent/src/hollow/main.js --control-plane URL --token-file F --count 1000
 * Prints `berth hollow nodes ready: N` on stdout once registered and watching, and
 * `berth hollow nodes stats: {JSON}` when it stops (SIGTERM/SIGINT; the Node objects stay);
 * logs go to stderr.
 */
function logger(format: 'json' | 'pretty'): Logger {
  const opts = {
    level: process.env.BERTH_LOG_LEVEL || 'info',
    base: { component: 'hollow-nodes' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'pretty') {
    try {
      const pretty = require('pino-pretty') as (o: object) => NodeJS.WritableStream;
      return pino(opts, pretty({ destination: 2, sync: true, colorize: process.stderr.isTTY }));
    } catch {
      /* JSON below */
    }
  }
  return pino(opts, pino.destination({ fd: 2, sync: true }));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HOLLOW_USAGE + '\n');
    return;
  }
  let cfg: HollowConfig;
  try {
    cfg = parseHollowFlags(argv);
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`berth-hollow-nodes: error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = logger(cfg.logFormat);
  process.on('unhandledRejection', (e) =>
    log.error({ err: String((e as Error)?.stack ?? e) }, 'unhandled rejection'),
  );
  let hollow: HollowNodes | undefined;
  let stopping = false;
  let report: NodeJS.Timeout | undefined = undefined;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    if (report) clearInterval(report);
    await hollow?.stop();
    if (hollow) {
      log.info(hollow.stats(), 'hollow nodes stopped');
      process.stdout.write(`berth hollow nodes stats: ${JSON.stringify(hollow.stats())}\n`);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    hollow = await startHollowNodes({
      client: new BerthClient({ server: cfg.server, token: cfg.token }),
      count: cfg.count,
      prefix: cfg.prefix,
      heartbeatIntervalMs: cfg.heartbeatIntervalMs,
      nodeStatusIntervalMs: cfg.nodeStatusIntervalMs,
      statusConcurrency: cfg.statusConcurrency,
      capacity: cfg.capacity,
      log,
    });
  } catch (e) {
    log.fatal({ err: (e as Error).message }, 'start-up failed');
    process.stderr.write(`berth-hollow-nodes: error: ${(e as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) return;
  const h = hollow;
  report = setInterval(() => log.info(h.stats(), 'hollow nodes'), 10_000);
  report.unref();
  process.stdout.write(`berth hollow nodes ready: ${cfg.count}\n`);
}

void main();
