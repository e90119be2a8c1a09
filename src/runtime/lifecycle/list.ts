// list: every container under the root with its state.
import type { State } from "../../oci/runtime-spec.js";
import { Container, type RuntimeContext } from "../container.js";
import { listIds, StateDir, statusOf, toState } from "../state.js";

export interface ListedContainer extends State {
  created?: string;
  rootfs?: string;
}

export function list(ctx: RuntimeContext): ListedContainer[] {
  const out: ListedContainer[] = [];
  for (const id of listIds(ctx.root)) {
    let dir: StateDir;
    try {
      dir = new StateDir(ctx.root, id);
    } catch {
      continue;
    }
    const record = dir.readRecord();
    if (!record) {
      out.push({ ociVersion: "", id, status: statusOf(dir, undefined), bundle: "" });
      continue;
    }
    const c = Container.load(ctx, id);
    out.push({ ...toState(record, c.status()), created: record.created, rootfs: record.rootfs });
  }
  return out;
}
