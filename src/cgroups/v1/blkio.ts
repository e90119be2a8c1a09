// v1 blkio controller: proportional weights (CFQ's blkio.weight or BFQ's blkio.bfq.weight) and throttles.
import { unavailable } from "../../errors.js";
import type { BlockIOResources, ThrottleDevice } from "../../oci/runtime-spec.js";
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

const S = `${RES}.blockIO`;

const THROTTLES = [
  ["throttleReadBpsDevice", "read_bps_device"],
  ["throttleWriteBpsDevice", "write_bps_device"],
  ["throttleReadIOPSDevice", "read_iops_device"],
  ["throttleWriteIOPSDevice", "write_iops_device"],
] as const;

export const blkio: Controller = {
  name: "blkio",
  requested(r) {
    const b = r.blockIO;
    if (!b) return undefined;
    if (b.weight) return `${S}.weight`;
    if (b.leafWeight) return `${S}.leafWeight`;
    if (b.weightDevice?.length) return `${S}.weightDevice`;
    for (const [key] of THROTTLES) if (b[key]?.length) return `${S}.${key}`;
    return undefined;
  },
  apply(dir, r, files) {
    const b: BlockIOResources = r.blockIO ?? {};
    const weightFile = (plain: string, bfq: string, setting: string): string => {
      if (files.exists(dir, plain)) return plain;
      if (files.exists(dir, bfq)) return bfq;
      throw unavailable(`${setting}: this host has no proportional-weight I/O scheduler (no ${plain} or ${bfq})`);
    };
    if (b.weight) {
      files.write(dir, weightFile("blkio.weight", "blkio.bfq.weight", `${S}.weight`), int(`${S}.weight`, b.weight), `${S}.weight`);
    }
    if (b.leafWeight) files.write(dir, "blkio.leaf_weight", int(`${S}.leafWeight`, b.leafWeight), `${S}.leafWeight`);
    for (const d of b.weightDevice ?? []) {
      const dev = `${int(`${S}.weightDevice`, d.major)}:${int(`${S}.weightDevice`, d.minor)}`;
      if (d.weight) {
        const file = weightFile("blkio.weight_device", "blkio.bfq.weight_device", `${S}.weightDevice`);
        files.write(dir, file, `${dev} ${int(`${S}.weightDevice`, d.weight)}`, `${S}.weightDevice`);
      }
      if (d.leafWeight) {
        files.write(dir, "blkio.leaf_weight_device", `${dev} ${int(`${S}.weightDevice`, d.leafWeight)}`, `${S}.weightDevice`);
      }
    }
    for (const [key, file] of THROTTLES) {
      for (const t of b[key] ?? []) files.write(dir, `blkio.throttle.${file}`, throttle(`${S}.${key}`, t), `${S}.${key}`);
    }
  },
};

function throttle(setting: string, t: ThrottleDevice): string {
  return `${int(setting, t.major)}:${int(setting, t.minor)} ${int(setting, t.rate)}`;
}
