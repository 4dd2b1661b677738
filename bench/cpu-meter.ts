// Where a contender's CPU went, read from the kernel before and after it runs: the machine's busy
// core-seconds (/proc/stat), the Temporal server process's own, and this process's (which holds
// the reference service, the enqueue client and, for the plain loop, the activities). What is left
// is everything else: the worker processes, the hash threads they start, the kernel's own work.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';

export interface CpuSpent {
  wallS: number;
  /** Core-seconds the whole machine was busy (not idle, not waiting for I/O). */
  machineS: number;
  serverS: number;
  benchS: number;
}

const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function machineBusyS(): number {
  const cpu = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  return (user + nice + system + irq + softirq + steal) / TICKS;
}

function processS(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    // The command may hold spaces and parentheses: fields are counted after its closing ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
  } catch {
    return 0; // gone: restarted or stopped
  }
}

/** The process whose command line holds every one of `parts` (the dev server, found by its port). */
export function findProcess(...parts: string[]): number | undefined {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      continue;
    }
    if (parts.every((p) => cmd.includes(p))) return Number(entry);
  }
  return undefined;
}

export function startCpuMeter(serverPid: number | undefined): () => CpuSpent {
  const t0 = performance.now();
  const machine0 = machineBusyS();
  const server0 = processS(serverPid);
  const bench0 = process.cpuUsage();
  return () => {
    const bench = process.cpuUsage(bench0);
    return {
      wallS: (performance.now() - t0) / 1000,
      machineS: machineBusyS() - machine0,
      serverS: processS(serverPid) - server0,
      benchS: (bench.user + bench.system) / 1e6,
    };
  };
}

export function describeCpu(c: CpuSpent): string {
  const cores = os.availableParallelism();
  const rest = Math.max(0, c.machineS - c.serverS - c.benchS);
  return (
    `CPU ${c.machineS.toFixed(0)} core-s of ${(c.wallS * cores).toFixed(0)} (${((100 * c.machineS) / (c.wallS * cores)).toFixed(0)} % of ${cores} cores busy): ` +
    `Temporal server ${c.serverS.toFixed(0)}, bench process ${c.benchS.toFixed(0)}, workers and the rest ${rest.toFixed(0)}`
  );
}
