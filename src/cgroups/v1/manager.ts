// cgroup v1: one directory per mounted hierarchy (cpu and cpuacct may share one).
import { invalidArgument, notFound, unavailable } from "../../errors.js";
import type { LinuxResources } from "../../oci/runtime-spec.js";
import type { Controller } from "../controller.js";
import { parseMountInfo, parseProcCgroup, type CgroupMount } from "../detect.js";
import { isKill, makeCgroupDirs, procsIn, removeCgroupTree, removeEmptyParents, signalAll } from "../dirs.js";
import { keyedValue, parseLimit, type CgroupFiles } from "../files.js";
import type { CgroupManager, CgroupStats } from "../manager.js";
import { cgroupDir, type CgroupPath } from "../paths.js";
import { blkio } from "./blkio.js";
import { cpu } from "./cpu.js";
import { cpuset, inheritCpuset } from "./cpuset.js";
import { devices } from "./devices.js";
import * as freezer from "./freezer.js";
import { hugetlb } from "./hugetlb.js";
import { memory } from "./memory.js";
import { netCls, netPrio } from "./network.js";
import { pids } from "./pids.js";

/**
 * The v1 hierarchies berth makes a directory in and joins, and the named one systemd keeps
 * (name=systemd: a container's own there, as runc and Docker make, is where a systemd
 * container's PID 1 builds its tree).
 */
const HIERARCHIES = [
  "cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
  "net_cls", "net_prio", "perf_event", "freezer", "rdma", "misc",
];
const CONTROLLERS: Controller[] = [cpuset, devices, memory, cpu, pids, blkio, hugetlb, netCls, netPrio];

export class V1Manager implements CgroupManager {
  readonly mode = "v1" as const;
  /** controller -> its hierarchy's mount and our directory in it. */
  private readonly dirs = new Map<string, { mount: CgroupMount; dir: string }>();
  /** Directories create() made, so destroy() can remove the parents too. */
  private readonly created: string[] = [];

  constructor(cgroupPath: CgroupPath, mountinfo: string, procSelfCgroup: string, private readonly files: CgroupFiles) {
    const own = parseProcCgroup(procSelfCgroup);
    for (const mount of parseMountInfo(mountinfo)) {
      if (mount.fsType !== "cgroup") continue;
      for (const c of mount.controllers) {
        if (!HIERARCHIES.includes(c) || this.dirs.has(c)) continue;
        this.dirs.set(c, { mount, dir: cgroupDir(mount, cgroupPath, own.get(c)) });
      }
      if (mount.name === "systemd" && !this.dirs.has("name=systemd")) this.dirs.set("name=systemd", { mount, dir: cgroupDir(mount, cgroupPath, own.get("name=systemd")) });
    }
    if (this.dirs.size === 0) throw unavailable("cgroups: no cgroup v1 controller is mounted on this host");
  }

  paths(): Record<string, string> {
    return Object.fromEntries([...this.dirs].map(([c, { dir }]) => [c, dir]));
  }

  /** One entry per directory: co-mounted controllers share one. */
  private hierarchies(): { mount: CgroupMount; dir: string; controllers: string[] }[] {
    const byDir = new Map<string, { mount: CgroupMount; dir: string; controllers: string[] }>();
    for (const [c, { mount, dir }] of this.dirs) {
      const h = byDir.get(dir) ?? { mount, dir, controllers: [] };
      h.controllers.push(c);
      byDir.set(dir, h);
    }
    return [...byDir.values()];
  }

  create(): void {
    const made: string[] = [];
    try {
      for (const h of this.hierarchies()) {
        const visit = h.controllers.includes("cpuset")
          ? (parent: string, child: string) => inheritCpuset(parent, child, this.files)
          : undefined;
        makeCgroupDirs(h.mount.mountPoint, h.dir, made, visit);
      }
    } catch (err) {
      removeEmptyParents(made);
      throw err;
    }
    this.created.push(...made);
  }

  apply(r: LinuxResources): void {
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw invalidArgument("linux.resources.unified: needs cgroup v2, and this host uses cgroup v1");
    }
    if (r.rdma && Object.keys(r.rdma).length > 0) throw unavailable("linux.resources.rdma: not supported by berth");
    // Check everything before writing anything.
    const todo: { c: Controller; dir: string }[] = [];
    for (const c of CONTROLLERS) {
      const setting = c.requested(r);
      if (setting === undefined) continue;
      const entry = this.dirs.get(c.name);
      if (!entry) throw unavailable(`${setting}: the ${c.name} cgroup controller is not mounted on this host`);
      todo.push({ c, dir: entry.dir });
    }
    for (const { c, dir } of todo) {
      this.mustExist(dir);
      c.apply(dir, r, this.files);
    }
  }

  addProcess(pid: number): void {
    if (!Number.isInteger(pid) || pid <= 0) throw invalidArgument(`cgroups: ${pid} is not a pid`);
    for (const h of this.hierarchies()) {
      this.mustExist(h.dir);
      this.files.write(h.dir, "cgroup.procs", String(pid), `cgroups: adding pid ${pid}`);
    }
  }

  pids(): number[] {
    const entry = this.dirs.get("pids") ?? this.dirs.get("freezer") ?? this.hierarchies()[0]!;
    return procsIn(entry.dir);
  }

  stats(): CgroupStats {
    const read = (controller: string, file: string): string | undefined => {
      const entry = this.dirs.get(controller);
      return entry ? this.files.readIfExists(entry.dir, file) : undefined;
    };
    const maxUsage = read("memory", "memory.max_usage_in_bytes");
    const throttled = keyedValue(read("cpu", "cpu.stat"), "nr_throttled");
    const pidsMax = parseLimit(read("pids", "pids.max"));
    const inactiveFile = keyedValue(read("memory", "memory.stat"), "total_inactive_file");
    // the CFQ/BFQ file where the scheduler keeps one, else the throttle layer's (always counted)
    const ioBytes = [read("blkio", "blkio.io_service_bytes_recursive"), read("blkio", "blkio.throttle.io_service_bytes_recursive")]
      .map(blkioBytes)
      .find((b) => b !== undefined && b.lines > 0);
    return {
      memory: {
        usage: parseLimit(read("memory", "memory.usage_in_bytes")),
        limit: parseLimit(read("memory", "memory.limit_in_bytes")),
        ...(maxUsage !== undefined ? { maxUsage: parseLimit(maxUsage) } : {}),
        ...(inactiveFile !== undefined ? { inactiveFile } : {}),
      },
      cpu: {
        usageNanos: parseLimit(read("cpuacct", "cpuacct.usage")),
        ...(throttled !== undefined ? { throttledPeriods: throttled } : {}),
      },
      pids: { current: parseLimit(read("pids", "pids.current")), limit: pidsMax === -1 ? 0 : pidsMax },
      ...(ioBytes ? { io: { readBytes: ioBytes.readBytes, writeBytes: ioBytes.writeBytes } } : {}),
    };
  }

  freeze(): void {
    freezer.freeze(this.freezerDir("pause"), this.files);
  }

  thaw(): void {
    freezer.thaw(this.freezerDir("resume"), this.files);
  }

  isFrozen(): boolean {
    const entry = this.dirs.get("freezer");
    return entry ? freezer.isFrozen(entry.dir, this.files) : false;
  }

  killAll(signal: NodeJS.Signals | number = "SIGKILL"): void {
    // Freeze first so nothing forks between listing and signalling. A frozen task only
    // dies once thawed; a paused container stays paused for other signals.
    const entry = this.dirs.get("freezer");
    const canFreeze = entry !== undefined && this.files.exists(entry.dir, "freezer.state");
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
    let first: unknown;
    for (const h of this.hierarchies()) {
      try {
        removeCgroupTree(h.dir);
      } catch (err) {
        first ??= err;
      }
    }
    removeEmptyParents(this.created);
    if (first !== undefined) throw first;
  }

  private freezerDir(verb: string): string {
    const entry = this.dirs.get("freezer");
    if (!entry) throw unavailable(`${verb}: the freezer cgroup controller is not mounted on this host`);
    this.mustExist(entry.dir);
    return entry.dir;
  }

  private mustExist(dir: string): void {
    if (!this.files.exists(dir, "")) {
      throw notFound(`cgroup ${dir} does not exist`, "create the cgroup first");
    }
  }
}

/** "8:0 Read 4096" lines (and a "Total" line) of blkio.*io_service_bytes*: reads and writes summed. */
function blkioBytes(text: string | undefined): { readBytes: number; writeBytes: number; lines: number } | undefined {
  if (text === undefined) return undefined;
  const out = { readBytes: 0, writeBytes: 0, lines: 0 };
  for (const line of text.split("\n")) {
    const [dev, op, value] = line.trim().split(/\s+/);
    if (!dev || !dev.includes(":") || value === undefined) continue;
    out.lines++;
    if (op === "Read") out.readBytes += Number(value);
    else if (op === "Write") out.writeBytes += Number(value);
  }
  return out;
}
