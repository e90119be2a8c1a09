// v1 cpu controller: cpu.shares, cpu.cfs_quota_us/cfs_period_us, cfs_burst_us, idle, realtime.
import { BerthError, invalidArgument } from "../../errors.js";
import type { CPUResources } from "../../oci/runtime-spec.js";
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.cpu`;
const NUMERIC = ["shares", "quota", "burst", "period", "realtimeRuntime", "realtimePeriod", "idle"] as const;

export const cpu: Controller = {
  name: "cpu",
  requested(r) {
    const c = r.cpu;
    if (!c) return undefined;
    for (const k of NUMERIC) if (c[k] !== undefined) int(`${S}.${k}`, c[k]);
    return firstSet(c);
  },
  apply(dir, r, files) {
    const c = r.cpu ?? {};
    if (c.shares) {
      files.write(dir, "cpu.shares", int(`${S}.shares`, c.shares), `${S}.shares`);
      // The kernel clamps out-of-range shares silently; say so instead.
      const actual = Number(files.read(dir, "cpu.shares"));
      if (actual !== c.shares) {
        throw invalidArgument(`${S}.shares ${c.shares} is out of range: the kernel set ${actual}`);
      }
    }
    let retryPeriod = false;
    if (c.period) {
      try {
        files.write(dir, "cpu.cfs_period_us", int(`${S}.period`, c.period), `${S}.period`);
      } catch (err) {
        // A shorter period can exceed the parent's quota with the old quota: retry after the quota.
        if (!(err instanceof BerthError && err.kind === "InvalidArgument" && c.quota)) throw err;
        retryPeriod = true;
      }
    }
    if (c.quota) {
      files.write(dir, "cpu.cfs_quota_us", int(`${S}.quota`, c.quota), `${S}.quota`);
      if (retryPeriod) files.write(dir, "cpu.cfs_period_us", int(`${S}.period`, c.period!), `${S}.period`);
    }
    if (c.burst !== undefined) files.write(dir, "cpu.cfs_burst_us", int(`${S}.burst`, c.burst), `${S}.burst`);
    if (c.idle !== undefined) files.write(dir, "cpu.idle", int(`${S}.idle`, c.idle), `${S}.idle`);
    if (c.realtimePeriod) {
      files.write(dir, "cpu.rt_period_us", int(`${S}.realtimePeriod`, c.realtimePeriod), `${S}.realtimePeriod`);
    }
    if (c.realtimeRuntime) {
      files.write(dir, "cpu.rt_runtime_us", int(`${S}.realtimeRuntime`, c.realtimeRuntime), `${S}.realtimeRuntime`);
    }
  },
};

function firstSet(c: CPUResources): string | undefined {
  if (c.shares) return `${S}.shares`;
  if (c.quota) return `${S}.quota`;
  if (c.period) return `${S}.period`;
  if (c.burst !== undefined) return `${S}.burst`;
  if (c.idle !== undefined) return `${S}.idle`;
  if (c.realtimePeriod) return `${S}.realtimePeriod`;
  if (c.realtimeRuntime) return `${S}.realtimeRuntime`;
  return undefined;
}
