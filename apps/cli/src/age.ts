/**
 * kubectl's short human durations: 45s, 119s, 3m12s, 15m, 3h20m, 10h, 2d4h, 30d, 2y45d, 9y.
 * More than one second in the future is '<invalid>' (clock skew up to a second reads as 0s).
 */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s ? `${minutes}m${s}s` : `${minutes}m`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m ? `${hours}h${m}m` : `${hours}h`;
  }
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h ? `${days}d${h}h` : `${days}d`;
  }
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) {
    const d = days % 365;
    return d ? `${years}y${d}d` : `${years}y`;
  }
  return `${years}y`;
}

/** The age of a timestamp at `now`, or '<unknown>' when there is none. */
export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(now - t);
}

/** Parses a --request-timeout value: 0, 30 (seconds), 500ms, 30s, 2m, 1h. Returns ms. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not a duration: use e.g. 0, 30s, 500ms, 2m or 1h`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
  return Math.round(n * factor);
}
