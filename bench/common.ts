// What every bench shares: order statistics, finding a tool, killing a timed-out command.
import { existsSync } from "node:fs";
import path from "node:path";

/** Linear interpolation between closest ranks (numpy's default); NaN for no samples. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface Stats {
  n: number;
  medianMs: number;
  p90Ms: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
}

/** Median, p90, min, max and mean, rounded to `decimals`. */
export function stats(samples: number[], decimals: number): Stats | undefined {
  if (samples.length === 0) return undefined;
  const s = [...samples].sort((a, b) => a - b);
  const f = 10 ** decimals;
  const r = (x: number) => Math.round(x * f) / f;
  return {
    n: s.length,
    medianMs: r(quantile(s, 0.5)),
    p90Ms: r(quantile(s, 0.9)),
    minMs: r(s[0]!),
    maxMs: r(s[s.length - 1]!),
    meanMs: r(s.reduce((a, b) => a + b, 0) / s.length),
  };
}

/** A program on PATH, or in the sbin dirs a root tool may live in. */
export function which(cmd: string): string | undefined {
  for (const d of [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
    if (d && existsSync(path.join(d, cmd))) return path.join(d, cmd);
  }
  return undefined;
}

/** Kills a command started in its own session, with everything it started. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    /* gone */
  }
}

/** debootstrap's variants of the Debian bench image: minbase (required packages) or its default (required + important) */
export const VARIANTS = ["minbase", "default"] as const;
export type Variant = (typeof VARIANTS)[number];
/** where bench/unpack.ts keeps each variant's image (its rootfs tar, archives and OCI layouts) */
export const cacheDir = (v: Variant) => (v === "minbase" ? "/var/tmp/berth-bench" : `/var/tmp/berth-bench-${v}`);
