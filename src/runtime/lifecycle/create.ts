// create: build the container's namespaces, cgroup and root, and leave its init waiting
// for `start` (runtime.md "create"). On any failure nothing is left behind.
import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cgroupManager, type CgroupManager, type CgroupMode, compileDeviceFilter, detectCgroupMode, DEVICE_FILTER_LICENSE } from "../../cgroups/index.js";
import { BerthError, invalidArgument, notFound } from "../../errors.js";
import { parseSpec } from "../../oci/validate.js";
import { OCI_VERSION, type Spec } from "../../oci/runtime-spec.js";
import { inUserNamespace, procStat, sendSignal } from "../../sys/index.js";
import { noCgroup, type RuntimeContext } from "../container.js";
import { effectiveDeviceRules } from "../devices.js";
import { type Launch, type Launcher, spawnLauncher } from "../launcher.js";
import { runHooks } from "../hooks.js";
import { compileSeccomp } from "../seccomp/index.js";
import { mapText, writeIdMaps } from "../idmap.js";
import { compilePlan, HOOK_STATE_CREATE, HOOK_STATE_START } from "../plan.js";
import { encodePlan, SyncPoint } from "../protocol.js";
import { launchPlan } from "../session.js";
import { type ContainerRecord, StateDir } from "../state.js";

export interface CreateOptions {
  id: string;
  /** the bundle directory (holds config.json) */
  bundle: string;
  pidFile?: string;
  /** keep the executor as the init's parent; `run` waits on it */
  stay?: boolean;
  /** the container's stdio: fds inherited by the init (default: the caller's 0, 1, 2) */
  stdio?: [number | "ignore", number | "ignore", number | "ignore"];
  /** who runs the plan (default: spawn the executor here) */
  launcher?: Launcher;
  /** runc's --console-socket: the unix socket that receives the pty master */
  consoleSocket?: string;
}

export interface Created {
  record: ContainerRecord;
  /** with `stay`: the container's exit status once it has exited */
  exited?: Promise<number>;
}

// A long-lived process (the warm service) compiles the same default profile for every
// container: 2–10 ms each time, so the last few programs are kept (they are never modified).
const seccompCache = new Map<string, ReturnType<typeof compileSeccomp>>();
function compiledSeccomp(profile: NonNullable<NonNullable<Spec["linux"]>["seccomp"]>): ReturnType<typeof compileSeccomp> {
  const key = JSON.stringify(profile);
  let compiled = seccompCache.get(key);
  if (!compiled) {
    compiled = compileSeccomp(profile);
    if (seccompCache.size >= 8) seccompCache.clear();
    seccompCache.set(key, compiled);
  }
  return compiled;
}

export function loadBundle(bundle: string): { spec: Spec; rootfs: string; bundle: string } {
  const dir = path.resolve(bundle);
  const configPath = path.join(dir, "config.json");
  let text: string;
  try {
    text = readFileSync(configPath, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw notFound(`${configPath}: no such file`, "is --bundle the directory holding config.json?");
    throw invalidArgument(`${configPath}: cannot read: ${(e as Error).message}`);
  }
  const spec = parseSpec(text, "config.json", { requireProcess: false });
  if (!spec.root?.path) throw invalidArgument("config.json: root.path: required");
  const rootfs = path.resolve(dir, spec.root.path);
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    throw notFound(`config.json: root.path: ${rootfs} does not exist`);
  }
  if (!isDir) throw invalidArgument(`config.json: root.path: ${rootfs} is not a directory`);
  return { spec, rootfs, bundle: dir };
}

export async function create(ctx: RuntimeContext, opts: CreateOptions): Promise<Created> {
  const dir = new StateDir(ctx.root, opts.id);
  if (dir.exists()) throw new BerthError("AlreadyExists", `container "${opts.id}" already exists`);
  const { spec, rootfs, bundle } = loadBundle(opts.bundle);
  const cgroupsPath = spec.linux?.cgroupsPath;
  const rootless = process.geteuid?.() !== 0;
  // root of a user namespace (unprivileged berth) has no cgroups and no mknod, as a rootless caller
  const inUserNs = !rootless && inUserNamespace();
  // everything that can be checked without side effects is checked before the first one
  const userNs = spec.linux?.namespaces?.some((n) => n.type === "user" && !n.path) ?? false;
  const maps = userNs
    ? { uid: mapText(spec.linux?.uidMappings ?? [], "config.json: linux.uidMappings"), gid: mapText(spec.linux?.gidMappings ?? [], "config.json: linux.gidMappings") }
    : undefined;
  const cgroupMode = ctx.cgroupMode ?? detectCgroupMode();
  const cgroup = containerCgroup(cgroupsPath, opts.id, cgroupMode, rootless || inUserNs, spec);
  const deviceRules = effectiveDeviceRules(spec.linux?.resources?.devices, spec.linux?.devices);
  // v1 has devices.allow/deny files; v2 an eBPF program the executor attaches to the cgroup
  // (not for a rootless caller, who may not load one: the host's rules still hold for it)
  const v2Devices = cgroup.mode === "v2" && cgroup.paths().unified !== undefined;
  const deviceFilter =
    v2Devices && !rootless && !inUserNs
      ? { dir: cgroup.paths().unified!, program: compileDeviceFilter(deviceRules, "config.json: linux.resources.devices"), license: DEVICE_FILTER_LICENSE }
      : undefined;
  const plan = compilePlan({
    spec,
    rootfs,
    stateDir: dir.dir,
    cgroupPaths: cgroup.paths(),
    cgroupMode,
    stay: opts.stay ?? false,
    consoleSocket: opts.consoleSocket,
    rootless,
    inUserNs,
    seccomp: spec.linux?.seccomp ? compiledSeccomp(spec.linux.seccomp) : undefined,
    deviceFilter,
  });

  dir.claim();
  let pid = 0;
  let cgroupMade = false;
  let launch: Launch | undefined;
  try {
    cgroup.create();
    cgroupMade = true;
    cgroup.apply({ ...spec.linux?.resources, devices: v2Devices ? undefined : deviceRules });

    const session = await launchPlan(opts.launcher ?? spawnLauncher, encodePlan(plan.ops), {
      stay: opts.stay ?? false,
      stdio: opts.stdio ?? [0, 1, 2],
      onPid: (p) => {
        pid = p;
      },
      onSync: async (point) => {
        const state = (status: "creating" | "created") => ({ ociVersion: OCI_VERSION, id: opts.id, status, pid, bundle, annotations: spec.annotations });
        if (point === SyncPoint.SETUP) {
          if (maps) writeIdMaps(pid, maps.uid, maps.gid, rootless);
          setupFromParent(cgroup, pid);
          if (spec.hooks?.createContainer?.length) writeFileSync(path.join(dir.dir, HOOK_STATE_CREATE), JSON.stringify(state("creating")));
          if (spec.hooks?.startContainer?.length) writeFileSync(path.join(dir.dir, HOOK_STATE_START), JSON.stringify(state("created")));
        } else if (point === SyncPoint.HOOKS) {
          await runHooks("prestart", spec.hooks?.prestart, state("creating"));
          await runHooks("createRuntime", spec.hooks?.createRuntime, state("creating"));
        }
      },
    });
    launch = session.launch;

    const stat = procStat(pid);
    if (!stat) throw new BerthError("Internal", "container init exited before it was ready");
    const record: ContainerRecord = {
      id: opts.id,
      pid,
      initStartTime: stat.startTime,
      bundle,
      rootfs,
      created: new Date().toISOString(),
      annotations: spec.annotations,
      config: spec,
      cgroupsPath,
      cgroupMode,
      ...(Object.keys(cgroup.paths()).length === 0 && (rootless || inUserNs) ? { noCgroup: true } : {}),
    };
    dir.write(record);
    if (opts.pidFile) writePidFile(opts.pidFile, pid);
    launch.sync.destroy();
    if (!opts.stay) launch.release();
    return { record, exited: opts.stay ? launch.exited : undefined };
  } catch (e) {
    if (pid > 0) {
      try {
        sendSignal(pid, 9);
      } catch {
        // already gone
      }
    }
    launch?.kill();
    if (cgroupMade) {
      try {
        cgroup.killAll(9);
        cgroup.destroy();
      } catch {
        // best effort: the original error is what the user needs
      }
    }
    dir.remove();
    throw e;
  }
}

/**
 * The container's cgroup. A rootless caller usually may not create cgroups (v1 has no
 * delegation): without resources to enforce it goes without, as runc does.
 */
function containerCgroup(cgroupsPath: string | undefined, id: string, mode: CgroupMode, rootless: boolean, spec: Spec): CgroupManager {
  const real = cgroupManager({ cgroupsPath, containerId: id, mode });
  if (!rootless) return real;
  try {
    real.create();
    real.destroy();
    return real;
  } catch (e) {
    const r = spec.linux?.resources;
    const asked = r && Object.entries(r).some(([k, v]) => k !== "devices" && v !== undefined);
    if (asked) throw invalidArgument(`config.json: linux.resources: a rootless container cannot have limits here: ${(e as Error).message}`);
    return noCgroup(real);
  }
}

/** What the parent does for the init before it may go on: its cgroup. */
function setupFromParent(cgroup: CgroupManager, pid: number): void {
  cgroup.addProcess(pid);
}

export function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, abs);
}
