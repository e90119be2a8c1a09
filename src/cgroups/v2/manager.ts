// cgroup v2: one directory in the unified hierarchy.
import { invalidArgument, notFound, unavailable } from "../../errors.js";
import type { LinuxResources } from "../../oci/runtime-spec.js";
import type { Controller } from "../controller.js";
import { parseMountInfo, parseProcCgroup, type CgroupMount } from "../detect.js";
import { isKill, makeCgroupDirs, procsIn, removeCgroupTree, removeEmptyParents, signalAll } from "../dirs.js";
import { keyedValue, parseLimit, type CgroupFiles } from "../files.js";
import type { CgroupManager, CgroupStats } from "../manager.js";
import { cgroupDir, type CgroupPath } from "../paths.js";
import { cpu } from "./cpu.js";
import { cpuset } from "./cpuset.js";
import * as freezer from "./freezer.js";
import { hugetlb } from "./hugetlb.js";
import { io } from "./io.js";
import { memory } from "./memory.js";
import { pids } from "./pids.js";
import { unified } from "./unified.js";

// runc's order; unified comes last so its raw values override the typed ones.
const CONTROLLERS: Controller[] = [pids, memory, io, cpu, cpuset, hugetlb, unified];

export class V2Manager implements CgroupManager {
  readonly mode = "v2" as const;
  private readonly mount: CgroupMount;
  private readonly dir: string;
  private readonly created: string[] = [];

  constructor(cgroupPath: CgroupPath, mountinfo: string, procSelfCgroup: string, private readonly files: CgroupFiles) {
    const mount = parseMountInfo(mountinfo).find((m) => m.fsType === "cgroup2");
    if (!mount) throw unavailable("cgroups: no cgroup2 filesystem is mounted on this host");
    this.mount = mount;
    this.dir = cgroupDir(mount, cgroupPath, parseProcCgroup(procSelfCgroup).get(""));
  }

  paths(): Record<string, string> {
    return { unified: this.dir };
  }

  create(): void {
    const made: string[] = [];
    try {
      makeCgroupDirs(this.mount.mountPoint, this.dir, made, (parent) => this.enableControllers(parent));
    } catch (err) {
      removeEmptyParents(made);
      throw err;
    }
    this.created.push(...made);
  }

  // Give children every controller the parent has. This fails in a cgroup that holds
  // processes (other than the root); apply() then names the setting that needed it.
  private enableControllers(parent: string): void {
    const available = (this.files.readIfExists(parent, "cgroup.controllers") ?? "").split(/\s+/).filter((c) => c);
    if (available.length === 0) return;
    try {
      this.files.write(parent, "cgroup.subtree_control", available.map((c) => "+" + c).join(" "), `cgroup ${parent}`);
    } catch {
      for (const c of available) {
        try {
          this.files.write(parent, "cgroup.subtree_control", "+" + c, `cgroup ${parent}`);
        } catch {
          // Left disabled.
        }
      }
    }
  }

  apply(r: LinuxResources): void {
    if (r.devices !== undefined) {
      throw unavailable(
        "linux.resources.devices: cgroup v2 device rules are an eBPF program attached at create; berth cannot change them on a running container",
      );
    }
    if (r.network?.classID !== undefined || r.network?.priorities?.length) {
      throw invalidArgument("linux.resources.network: cgroup v2 has no net_cls/net_prio controllers");
    }
    if (r.rdma && Object.keys(r.rdma).length > 0) throw unavailable("linux.resources.rdma: not supported by berth");
    this.mustExist();
    const enabled = (this.files.readIfExists(this.dir, "cgroup.controllers") ?? "").split(/\s+/);
    const todo: Controller[] = [];
    for (const c of CONTROLLERS) {
      const setting = c.requested(r);
      if (setting === undefined) continue;
      if (c.name !== "" && !enabled.includes(c.name)) {
        throw unavailable(`${setting}: the ${c.name} controller is not enabled in cgroup ${this.dir}`);
      }
      todo.push(c);
    }
    for (const c of todo) c.apply(this.dir, r, this.files);
  }

  addProcess(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw invalidArgument(`cgroups: ${pid} is not a pid`);
    this.mustExist();
    this.files.write(this.dir, "cgroup.procs", String(pid), `cgroups: adding pid ${pid}`);
  }

  pids(): number[] {
    return procsIn(this.dir);
  }

  stats(): CgroupStats {
    const read = (file: string) => this.files.readIfExists(this.dir, file);
    const peak = read("memory.peak");
    const cpuStat = read("cpu.stat");
    const throttled = keyedValue(cpuStat, "nr_throttled");
    const pidsMax = parseLimit(read("pids.max"));
    const inactiveFile = keyedValue(read("memory.stat"), "inactive_file");
    const ioStat = read("io.stat");
    return {
      memory: {
        usage: parseLimit(read("memory.current")),
        limit: parseLimit(read("memory.max")),
        ...(peak !== undefined ? { maxUsage: parseLimit(peak) } : {}),
        ...(inactiveFile !== undefined ? { inactiveFile } : {}),
      },
      cpu: {
        usageNanos: (keyedValue(cpuStat, "usage_usec") ?? 0) * 1000,
        ...(throttled !== undefined ? { throttledPeriods: throttled } : {}),
      },
      pids: { current: parseLimit(read("pids.current")), limit: pidsMax === -1 ? 0 : pidsMax },
      ...(ioStat !== undefined ? { io: ioBytes(ioStat) } : {}),
    };
  }

  freeze(): void {
    this.mustExist();
    freezer.freeze(this.dir, this.files);
  }

  thaw(): void {
    this.mustExist();
    freezer.thaw(this.dir, this.files);
  }

  isFrozen(): boolean {
    return freezer.isFrozen(this.dir, this.files);
  }

  killAll(signal: NodeJS.Signals | number = "SIGKILL"): void {
    // cgroup.kill (Linux 5.14) kills the whole subtree atomically.
    if (isKill(signal) && this.files.exists(this.dir, "cgroup.kill")) {
      this.files.write(this.dir, "cgroup.kill", "1", "kill");
      return;
    }
    const canFreeze = this.files.exists(this.dir, "cgroup.freeze");
    const wasFrozen = this.isFrozen();
    let frozen = false;
    if (canFreeze) {
      try {
        this.freeze();
        frozen = true;
      } catch {
        // Signal anyway.
      }
    }
    try {
      signalAll(this.pids(), signal);
    } finally {
      if (frozen && !(wasFrozen && !isKill(signal))) this.thaw();
    }
  }

  destroy(): void {
    removeCgroupTree(this.dir);
    removeEmptyParents(this.created);
  }

  private mustExist(): void {
    if (!this.files.exists(this.dir, "")) {
      throw notFound(`cgroup ${this.dir} does not exist`, "create the cgroup first");
    }
  }
}

/** io.stat ("8:0 rbytes=4096 wbytes=0 rios=1 …" a device): bytes read and written, devices summed. */
function ioBytes(text: string): { readBytes: number; writeBytes: number } {
  const out = { readBytes: 0, writeBytes: 0 };
  for (const m of text.matchAll(/\b([rw])bytes=(\d+)/g)) {
    if (m[1] === "r") out.readBytes += Number(m[2]);
    else out.writeBytes += Number(m[2]);
  }
  return out;
}
