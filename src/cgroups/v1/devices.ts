// v1 devices controller: deny everything, then write each rule in order (as runc).
import { invalidArgument } from "../../errors.js";
import type { DeviceCgroupRule } from "../../oci/runtime-spec.js";
import { RES, type Controller } from "../controller.js";

const S = `${RES}.devices`;

export const devices: Controller = {
  name: "devices",
  requested(r) {
    if (r.devices === undefined) return undefined;
    for (const rule of r.devices) ruleLines(rule);
    return S;
  },
  apply(dir, r, files) {
    files.write(dir, "devices.deny", "a", S);
    for (const rule of r.devices ?? []) {
      for (const line of ruleLines(rule)) files.write(dir, rule.allow ? "devices.allow" : "devices.deny", line, S);
    }
  },
};

/** The lines the kernel wants for one rule ("c 1:3 rwm"). */
export function ruleLines(rule: DeviceCgroupRule): string[] {
  const type = rule.type ?? "a";
  const access = rule.access ?? "rwm";
  if (!/^[abc]$/.test(type)) throw invalidArgument(`${S}: type ${JSON.stringify(type)} is not a, b or c`);
  if (!/^[rwm]{1,3}$/.test(access) || new Set(access).size !== access.length) {
    throw invalidArgument(`${S}: access ${JSON.stringify(access)} is not a combination of r, w and m`);
  }
  const num = (n: number | null | undefined, what: string): string => {
    if (n === undefined || n === null || n === -1) return "*";
    if (!Number.isInteger(n) || n < 0) throw invalidArgument(`${S}: ${what} ${n} is not a device number`);
    return String(n);
  };
  const dev = `${num(rule.major, "major")}:${num(rule.minor, "minor")}`;
  // The kernel reads a bare "a" as "every device, every access" whatever follows it,
  // so a narrower "a" rule becomes one rule for char and one for block devices.
  if (type === "a") {
    return dev === "*:*" && access.length === 3 ? ["a"] : [`c ${dev} ${access}`, `b ${dev} ${access}`];
  }
  return [`${type} ${dev} ${access}`];
}
