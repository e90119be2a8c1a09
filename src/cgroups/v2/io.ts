// v2 io controller: io.bfq.weight or io.weight, and io.max throttles.
import { invalidArgument } from "../../errors.js";
import type { ThrottleDevice } from "../../oci/runtime-spec.js";
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.blockIO`;
const THROTTLES = [
  ["throttleReadBpsDevice", "rbps"],
  ["throttleWriteBpsDevice", "wbps"],
  ["throttleReadIOPSDevice", "riops"],
  ["throttleWriteIOPSDevice", "wiops"],
] as const;

export const io: Controller = {
  name: "io",
  requested(r) {
    const b = r.blockIO;
    if (!b) return undefined;
    if (b.leafWeight || b.weightDevice?.some((d) => d.leafWeight)) {
      throw invalidArgument(`${S}.leafWeight: cgroup v2 has no leaf weights`);
    }
    if (b.weight) return `${S}.weight`;
    if (b.weightDevice?.some((d) => d.weight)) return `${S}.weightDevice`;
    for (const [key] of THROTTLES) if (b[key]?.length) return `${S}.${key}`;
    return undefined;
  },
  apply(dir, r, files) {
    const b = r.blockIO ?? {};
    // BFQ takes v1 weights as they are; io.weight has another range.
    const bfq = files.exists(dir, "io.bfq.weight");
    const file = bfq ? "io.bfq.weight" : "io.weight";
    const weight = (setting: string, w: number) => (bfq ? int(setting, w) : String(blkioToIoWeight(Number(int(setting, w)))));
    if (b.weight) files.write(dir, file, weight(`${S}.weight`, b.weight), `${S}.weight`);
    for (const d of b.weightDevice ?? []) {
      if (!d.weight) continue;
      const dev = `${int(`${S}.weightDevice`, d.major)}:${int(`${S}.weightDevice`, d.minor)}`;
      files.write(dir, file, `${dev} ${weight(`${S}.weightDevice`, d.weight)}`, `${S}.weightDevice`);
    }
    for (const [key, name] of THROTTLES) {
      for (const t of b[key] ?? []) files.write(dir, "io.max", throttle(`${S}.${key}`, name, t), `${S}.${key}`);
    }
  },
};

/** runc's mapping of blkio weight [10, 1000] onto io.weight [1, 10000]. */
export function blkioToIoWeight(weight: number): number {
  return weight === 0 ? 0 : 1 + Math.floor(((weight - 10) * 9999) / 990);
}

function throttle(setting: string, name: string, t: ThrottleDevice): string {
  return `${int(setting, t.major)}:${int(setting, t.minor)} ${name}=${int(setting, t.rate)}`;
}
