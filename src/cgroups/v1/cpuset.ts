// v1 cpuset controller: cpuset.cpus and cpuset.mems.
import { RES, type Controller } from "../controller.js";
import type { CgroupFiles } from "../files.js";

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

/** A new v1 cpuset starts with no cpus and mems, and no process can join it: copy the parent's. */
export function inheritCpuset(parent: string, child: string, files: CgroupFiles): void {
  for (const file of ["cpuset.cpus", "cpuset.mems"]) {
    if (files.read(child, file) === "") files.write(child, file, files.read(parent, file), `cgroup ${child}`);
  }
}
