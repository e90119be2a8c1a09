// v2 cpuset controller: cpuset.cpus and cpuset.mems.
import { RES, type Controller } from "../controller.js";

export const cpuset: Controller = {
  name: "cpuset",
  requested(r) {
    if (r.cpu?.cpus) return `${RES}.cpu.cpus`;
    if (r.cpu?.mems) return `${RES}.cpu.mems`;
    return undefined;
  },
  apply(dir, r, files) {
    if (r.cpu?.cpus) files.write(dir, "cpuset.cpus", r.cpu.cpus, `${RES}.cpu.cpus`);
    if (r.cpu?.mems) files.write(dir, "cpuset.mems", r.cpu.mems, `${RES}.cpu.mems`);
  },
};
