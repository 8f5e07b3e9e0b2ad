// The human-readable result.
import type { LoadResult } from './load.ts';

export interface RelayRun extends LoadResult {
  readonly server: 'potluck' | 'y-webrtc';
  readonly clients: number;
  /** Connections the server closed during the run (should be 0). */
  readonly closedByServer: number;
}

const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : '-');

export function formatTable(runs: readonly RelayRun[]): string {
  const header = [
    'server',
    'clients',
    'msgs/s',
    'publishes/s',
    'p50 ms',
    'p99 ms',
    'server cpu',
    'msgs/cpu-s',
    'load cpu',
    'closed',
  ];
  const rows = runs.map((run) => [
    run.server,
    String(run.clients),
    Math.round(run.messagesPerSecond).toLocaleString('en'),
    Math.round(run.publishesPerSecond).toLocaleString('en'),
    fixed(run.p50Ms, 2),
    fixed(run.p99Ms, 2),
    fixed(run.serverCpu, 2),
    Math.round(run.messagesPerServerCpuSecond).toLocaleString('en'),
    fixed(run.loadCpu, 2),
    String(run.closedByServer),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => (row[c] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0)))
      .join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
