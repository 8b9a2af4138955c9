/**
 * What every command shares: exit codes, the errors that carry them, and rendering. stdout holds results only
 * (an aligned table for people, or one JSON document with --json); progress and diagnostics go to stderr.
 */
import Table from 'cli-table3';
import { InvalidArgumentError } from 'commander';

export const EXIT_OK = 0;
/** The job or the request failed. */
export const EXIT_FAILED = 1;
/** The command line or the config was wrong; nothing was sent. */
export const EXIT_USAGE = 2;

/** An error that ends the command with `exitCode` and `message` on stderr. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
  }
}

/** The one JSON document a --json command prints. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Progress and diagnostics. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

const BORDERLESS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/** An aligned table without borders (like `gh` lists), one row per item; "(none)" when empty. */
export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  if (rows.length === 0) return '(none)';
  const t = new Table({
    head,
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 },
  });
  for (const row of rows)
    t.push(row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell))));
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** A two-column table of an object's fields. */
export function fields(entries: [string, string | number | null | undefined][]): string {
  return entries.map(([k, v]) => `${`${k}:`.padEnd(18)} ${v ?? '-'}`).join('\n');
}

const RELATIVE = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** "3 minutes ago", relative to `now` (Unix seconds in, Unix seconds now). */
export function relativeTime(unixSeconds: number | null | undefined, now = Date.now() / 1000): string {
  if (unixSeconds === null || unixSeconds === undefined) return '-';
  const delta = unixSeconds - now;
  const abs = Math.abs(delta);
  if (abs < 60) return RELATIVE.format(Math.round(delta), 'second');
  if (abs < 3600) return RELATIVE.format(Math.round(delta / 60), 'minute');
  if (abs < 86400) return RELATIVE.format(Math.round(delta / 3600), 'hour');
  return RELATIVE.format(Math.round(delta / 86400), 'day');
}

/** Bytes as "1.2 MB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as "1:05" or "1:02:03". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** A commander parser for an integer flag in [min, max]. */
export function integerOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (text: string): number => {
    if (!/^-?\d+$/.test(text) || Number(text) < min || Number(text) > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected an integer ≥ ${min}`
          : `expected an integer from ${min} to ${max}`,
      );
    }
    return Number(text);
  };
}

/** A commander parser for a number flag. */
export function numberOption(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new InvalidArgumentError('expected a number');
  return value;
}
