// linux.resources.unified: raw "file": "value" pairs for the v2 directory, written last so they win.
import { invalidArgument, unavailable } from "../../errors.js";
import { RES, type Controller } from "../controller.js";

const S = `${RES}.unified`;

export const unified: Controller = {
  name: "",
  requested(r) {
    const keys = Object.keys(r.unified ?? {});
    for (const key of keys) {
      if (!/^[a-z_]+\.[A-Za-z0-9_.]+$/.test(key)) {
        throw invalidArgument(`${S}: key ${JSON.stringify(key)} is not a cgroup file name such as memory.high`);
      }
    }
    return keys.length > 0 ? S : undefined;
  },
  apply(dir, r, files) {
    const enabled = (files.readIfExists(dir, "cgroup.controllers") ?? "").split(/\s+/);
    for (const [key, value] of Object.entries(r.unified ?? {})) {
      const controller = key.slice(0, key.indexOf("."));
      if (controller !== "cgroup" && !enabled.includes(controller)) {
        throw unavailable(`${S}.${key}: the ${controller} controller is not enabled in cgroup ${dir}`);
      }
      files.write(dir, key, value, `${S}.${key}`);
    }
  },
};
