// A container as the runtime sees it between invocations: its state dir, record and cgroup.
import { cgroupManager, type CgroupManager, type CgroupMode } from "../cgroups/index.js";
import { readdirSync } from "node:fs";
import { invalidArgument } from "../errors.js";
import { procStat, sendSignal, signalNumber } from "../sys/index.js";
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
    const real = cgroupManager({ cgroupsPath: this.record.cgroupsPath, containerId: this.record.id, mode: this.record.cgroupMode });
    this.cgroupCache ??= this.record.noCgroup ? noCgroup(real, this.record.pid) : real;
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

/**
 * Stands in for a cgroup a rootless container does not have: its processes are the init's
 * descendants, and signalling "all" of them signals the init (KILL ends its pid namespace).
 */
export function noCgroup(real: CgroupManager, init = 0): CgroupManager {
  return {
    mode: real.mode,
    create: () => undefined,
    apply: () => undefined,
    addProcess: () => undefined,
    pids: () => (init > 0 ? descendants(init) : []),
    stats: () => ({ memory: { usage: 0, limit: -1 }, cpu: { usageNanos: 0 }, pids: { current: 0, limit: 0 } }),
    freeze: () => {
      throw invalidArgument("a rootless container without a cgroup cannot be paused");
    },
    thaw: () => undefined,
    isFrozen: () => false,
    killAll: (sig) => {
      if (init <= 0) return;
      try {
        sendSignal(init, sig === undefined ? 9 : (signalNumber(sig) ?? 9));
      } catch {
        // already gone
      }
    },
    destroy: () => undefined,
    paths: () => ({}),
  };
}

/** A process and its descendants, from /proc (parents before children). */
function descendants(pid: number): number[] {
  if (!procStat(pid)) return [];
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = procStat(Number(name))?.ppid;
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out = [pid];
  for (let i = 0; i < out.length && out.length < 100_000; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}
