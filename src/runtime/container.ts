// A container as the runtime sees it between invocations: its state dir, record and cgroup.
import { cgroupManager, type CgroupManager, type CgroupMode } from "../cgroups/index.js";
import type { ContainerStatus, State } from "../oci/runtime-spec.js";
import { type ContainerRecord, StateDir, statusOf, toState } from "./state.js";

export interface RuntimeContext {
  /** the runtime's state root (--root) */
  root: string;
  /** the cgroup driver for new containers; default: detected from the host */
  cgroupMode?: CgroupMode;
  /** non-fatal problems (a failing poststart or poststop hook); the library never prints */
  warn?: (message: string) => void;
}

export class Container {
  private cgroupCache?: CgroupManager;

  private constructor(
    readonly dir: StateDir,
    readonly record: ContainerRecord,
  ) {}

  /** Loads an existing container; NotFound when there is none. */
  static load(ctx: RuntimeContext, id: string): Container {
    const dir = new StateDir(ctx.root, id);
    return new Container(dir, dir.load());
  }

  get id(): string {
    return this.record.id;
  }

  get pid(): number {
    return this.record.pid;
  }

  get cgroup(): CgroupManager {
    this.cgroupCache ??= cgroupManager({ cgroupsPath: this.record.cgroupsPath, containerId: this.record.id, mode: this.record.cgroupMode });
    return this.cgroupCache;
  }

  status(): ContainerStatus {
    return statusOf(this.dir, this.record, () => {
      try {
        return this.cgroup.isFrozen();
      } catch {
        return false;
      }
    });
  }

  state(): State {
    return toState(this.record, this.status());
  }
}
