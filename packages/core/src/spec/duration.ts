import { KanaryError } from '../errors/kanary-error.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const COMPOUND = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

/** Text accepted for a duration: `"30s"`, `"5m"`, `"1h30m"`, `"250ms"`, or a number of milliseconds. */
export type DurationInput = string | number;

/**
 * Parses a duration into milliseconds, or returns undefined when it is not one.
 * Accepts Go-style compound forms (`1h30m`) because Argo and Flagger users write them.
 */
export function tryParseDuration(input: DurationInput): number | undefined {
  if (typeof input === 'number') return Number.isFinite(input) && input >= 0 ? Math.round(input) : undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (!COMPOUND.test(text)) return undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    const [, amount, unit] = part;
    if (!DURATION.test(part[0])) return undefined;
    total += Number(amount) * (UNIT_MS[unit as string] ?? Number.NaN);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/** Like {@link tryParseDuration} but throws a KanaryError naming the field. */
export function parseDuration(input: DurationInput, path = 'duration'): number {
  const ms = tryParseDuration(input);
  if (ms === undefined) {
    throw new KanaryError('INVALID_SPEC', `${path}: "${String(input)}" is not a duration`, {
      issues: [
        { path, message: 'not a duration', hint: 'write e.g. "30s", "5m", "1h" or a number of milliseconds' },
      ],
    });
  }
  return ms;
}

/** Formats milliseconds compactly for humans: 90000 → "1m30s". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (s || parts.length === 0) parts.push(`${s}s`);
  return parts.join('');
}
