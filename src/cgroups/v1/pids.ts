// v1 pids controller: pids.max.
import { RES, type Controller } from "../controller.js";
import { int } from "../files.js";

export const pids: Controller = {
  name: "pids",
  requested(r) {
    if (r.pids === undefined) return undefined;
    int(`${RES}.pids.limit`, r.pids.limit);
    return `${RES}.pids.limit`;
  },
  apply(dir, r, files) {
    // OCI has no "max": a limit <= 0 means no limit.
    const limit = r.pids!.limit;
    files.write(dir, "pids.max", limit > 0 ? int(`${RES}.pids.limit`, limit) : "max", `${RES}.pids.limit`);
  },
};
