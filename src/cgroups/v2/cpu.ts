// v2 cpu controller: cpu.weight, cpu.max, cpu.max.burst, cpu.idle.
import { invalidArgument } from "../../errors.js";
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.cpu`;

export const cpu: Controller = {
  name: "cpu",
  requested(r) {
    const c = r.cpu;
    if (!c) return undefined;
    for (const k of ["shares", "quota", "burst", "period", "idle"] as const) if (c[k] !== undefined) int(`${S}.${k}`, c[k]);
    if (c.realtimeRuntime || c.realtimePeriod) {
      throw invalidArgument(`${S}.realtimeRuntime/realtimePeriod: cgroup v2 has no realtime scheduling limits`);
    }
    if (c.shares) return `${S}.shares`;
    if (c.quota || c.period) return c.quota ? `${S}.quota` : `${S}.period`;
    if (c.burst !== undefined) return `${S}.burst`;
    if (c.idle !== undefined) return `${S}.idle`;
    return undefined;
  },
  apply(dir, r, files) {
    const c = r.cpu ?? {};
    if (c.idle !== undefined) files.write(dir, "cpu.idle", int(`${S}.idle`, c.idle), `${S}.idle`);
    if (c.shares) files.write(dir, "cpu.weight", String(sharesToWeight(c.shares)), `${S}.shares`);
    if (c.burst !== undefined) files.write(dir, "cpu.max.burst", int(`${S}.burst`, c.burst), `${S}.burst`);
    if (c.quota || c.period) {
      const quota = c.quota && c.quota > 0 ? String(c.quota) : "max";
      files.write(dir, "cpu.max", c.period ? `${quota} ${c.period}` : quota, c.quota ? `${S}.quota` : `${S}.period`);
    }
  },
};

/** runc's mapping of v1 shares [2, 262144] onto v2 weight [1, 10000]. */
export function sharesToWeight(shares: number): number {
  return shares === 0 ? 0 : 1 + Math.floor(((shares - 2) * 9999) / 262142);
}
