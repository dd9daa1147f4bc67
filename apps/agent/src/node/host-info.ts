import { promises as fs } from 'node:fs';
import os from 'node:os';
import { goArch, osImageFrom, type HostInfo } from './node-status';

/** The first non-internal IPv4 address, else 127.0.0.1. */
export function internalIP(bindHost?: string): string {
  if (bindHost && bindHost !== '0.0.0.0' && bindHost !== '::' && /^\d+\.\d+\.\d+\.\d+$/.test(bindHost))
    return bindHost;
  for (const addrs of Object.values(os.networkInterfaces()))
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

const read = (f: string) =>
  fs
    .readFile(f, 'utf8')
    .then((t) => t.trim())
    .catch(() => undefined);

/** Gathers HostInfo from the OS. */
export async function hostInfo(opts: {
  nodeName: string;
  maxPods: number;
  runtimeVersion: string;
  port: number;
  bindHost?: string;
}): Promise<HostInfo> {
  return {
    nodeName: opts.nodeName,
    hostname: os.hostname(),
    internalIP: internalIP(opts.bindHost),
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    maxPods: opts.maxPods,
    kernelVersion: os.release(),
    osImage: osImageFrom(await read('/etc/os-release')),
    architecture: goArch(process.arch),
    runtimeVersion: opts.runtimeVersion,
    machineID: await read('/etc/machine-id'),
    bootID: await read('/proc/sys/kernel/random/boot_id'),
    port: opts.port,
  };
}
