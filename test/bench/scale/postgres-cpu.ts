// PostgreSQL's CPU for bench:scale, read from /proc as the relays' is: each postmaster's own
// time and that of its children, running ones (backends, WAL writer, checkpointer) from their
// stat and those already gone from the postmaster's cutime/cstime (a backend's time moves
// there when its connection closes and it is reaped). That is the whole server: other clients'
// queries at the same time count too. Null when no server runs on this machine.
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

interface Stat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime, ticks. */
  readonly own: number;
  /** cutime + cstime: reaped children, ticks. */
  readonly children: number;
}

function statOf(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // gone between the listing and the read
  }
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  // After "pid (comm) ": state, ppid, ... utime (14th field), stime, cutime, cstime.
  const fields = text.slice(close + 2).split(' ');
  return {
    pid,
    comm,
    ppid: Number(fields[1]),
    own: Number(fields[11]) + Number(fields[12]),
    children: Number(fields[13]) + Number(fields[14]),
  };
}

export function postgresCpuSeconds(): number | null {
  const stats = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => statOf(Number(name)))
    .filter((s): s is Stat => s?.comm.startsWith('postgres') === true);
  const pids = new Set(stats.map((s) => s.pid));
  const masters = stats.filter((s) => !pids.has(s.ppid));
  if (masters.length === 0) return null;
  const masterPids = new Set(masters.map((s) => s.pid));
  let ticks = 0;
  for (const s of stats) ticks += s.own + (masterPids.has(s.pid) ? s.children : 0);
  return ticks / CLOCK_TICKS;
}
