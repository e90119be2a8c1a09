// Real container engines driving berth-oci: Podman (through conmon) and containerd (through
// containerd-shim-runc-v2, `ctr run --runc-binary`). Everything lives in one temporary
// directory: Podman's storage and run root, a containerd of our own (its root, state and
// sockets), berth-oci's state, the warm service's socket, and a cgroup parent of our own.
// No registry is used: the image is a busybox-static rootfs imported with `podman import`
// and handed to containerd as an OCI archive.
//
// Debian packages: podman (brings conmon, netavark, catatonit) and containerd (brings ctr
// and containerd-shim-runc-v2). `script` (bsdutils) gives the engines a terminal.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BERTH_OCI, BERTH_OCI_WARM, REPO, isRoot, makeRootfs, type Path } from "../helpers/oci.js";

export const IMAGE = "localhost/berth-busybox:latest";
export const CTR_NAMESPACE = "berth-test";

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

const SEARCH = [...(process.env.PATH ?? "").split(":"), "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
export function which(cmd: string): string | undefined {
  for (const d of SEARCH) {
    if (d && existsSync(path.join(d, cmd))) return path.join(d, cmd);
  }
  return undefined;
}

function built(): string | false {
  const need = [BERTH_OCI_WARM, path.join(REPO, "dist", "src", "cli", "berth-oci.mjs"), path.join(REPO, "dist", "src", "cli", "berth-warm.mjs")];
  const missing = need.filter((f) => !existsSync(f));
  return missing.length ? `needs the build (${missing.join(", ")}): run ./scripts/setup` : false;
}

function commonSkip(): string | false {
  if (!isRoot) return "needs root (the engines run rootful containers)";
  const tools = ["script", "tar"].filter((t) => !which(t));
  if (tools.length) return `needs ${tools.join(", ")}`;
  return built();
}

export function podmanSkip(): string | false {
  const common = commonSkip();
  if (common) return common;
  const missing = ["podman", "conmon"].filter((t) => !which(t));
  return missing.length ? `needs ${missing.join(", ")}: apt-get install podman` : false;
}

export function containerdSkip(): string | false {
  const common = commonSkip();
  if (common) return common;
  const missing = ["containerd", "ctr", "containerd-shim-runc-v2"].filter((t) => !which(t));
  return missing.length ? `needs ${missing.join(", ")}: apt-get install containerd` : false;
}

const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** the hard limit of one resource of this process, from /proc/self/limits */
function hardLimit(name: string): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith(name));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return hard === undefined || hard === "unlimited" ? Infinity : Number(hard);
}

/** pids of live processes whose command line mentions `needle` (ours: the needle is our temp dir) */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes(needle)) found.push(Number(p));
    } catch {
      // gone
    }
  }
  return found;
}

export function mountsUnder(prefix: string): string[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && (m === prefix || m.startsWith(prefix + "/")));
}

const HIERARCHIES = ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "systemd", "unified"];
/** cgroup directories named `name` directly under a hierarchy's root (or the v2 root) */
export function cgroupDirs(name: string): string[] {
  const roots = existsSync("/sys/fs/cgroup/cgroup.controllers") ? ["/sys/fs/cgroup"] : HIERARCHIES.map((h) => path.join("/sys/fs/cgroup", h));
  return roots.map((r) => path.join(r, name)).filter((d) => existsSync(d));
}

function rmCgroupTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) rmCgroupTree(path.join(dir, e));
  try {
    rmdirSync(dir);
  } catch {
    // still busy: reported by the leftovers check
  }
}

function killPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

/** sends TERM, waits up to `ms`, then KILL */
function stopPid(pid: number, ms = 5000): void {
  if (!killPid(pid, "SIGTERM")) return;
  for (let waited = 0; waited < ms && alive(pid); waited += 20) sleepSync(20);
  if (alive(pid)) killPid(pid, "SIGKILL");
}

export class Engines {
  readonly dir: string;
  /** the cgroup parent every container of this run lives under */
  readonly cgroupParent: string;
  readonly warmSocket: string;
  /** runtime executables for Podman, one per berth-oci path (see wrapper()) */
  readonly podmanRuntime: Record<Path, string>;
  /** the real berth-oci binaries, as containerd is given them */
  readonly binary: Record<Path, string> = { direct: BERTH_OCI, warm: BERTH_OCI_WARM };
  private readonly env: NodeJS.ProcessEnv;
  private n = 0;
  private containerdPid?: number;
  private podmanReady = false;
  private torn = false;
  ctrSocket = "";

  constructor() {
    this.dir = mkdtempSync(path.join(tmpdir(), "berth-engines-"));
    chmodSync(this.dir, 0o755);
    this.cgroupParent = path.basename(this.dir);
    this.warmSocket = path.join(this.dir, "warm", "warm.sock");
    this.env = { ...process.env, CONTAINERS_CONF: path.join(this.dir, "containers.conf"), TMPDIR: path.join(this.dir, "tmp") };
    mkdirSync(path.join(this.dir, "tmp"));
    this.podmanRuntime = { direct: this.wrapper("direct"), warm: this.wrapper("warm") };
  }

  /**
   * Podman takes a runtime path and passes `--runtime-flag root=...` to create but not to the
   * `podman container cleanup` that conmon runs at exit (Podman 4.3), so a `--root` of our own
   * must be part of the runtime itself. The wrapper is named berth-oci (Podman keys its
   * per-runtime settings, e.g. runtime_supports_json, by the runtime's base name) and execs
   * the real binary.
   */
  private wrapper(mode: Path): string {
    const bin = path.join(this.dir, `bin-${mode}`);
    mkdirSync(bin);
    const file = path.join(bin, "berth-oci");
    const env = mode === "warm" ? `BERTH_WARM_SOCKET='${this.warmSocket}' BERTH_WARM_IDLE_MS=30000 ` : "";
    writeFileSync(file, `#!/bin/sh\n${env}exec '${this.binary[mode]}' --root '${path.join(this.dir, "berth-state")}' "$@"\n`);
    chmodSync(file, 0o755);
    return file;
  }

  /** runs a command with its output in files (a detached container may keep a pipe open) */
  run(cmd: string, args: string[], opts: { input?: string; timeout?: number; env?: NodeJS.ProcessEnv } = {}): Result {
    const k = this.n++;
    const outFile = path.join(this.dir, `out.${k}`);
    const errFile = path.join(this.dir, `err.${k}`);
    const o = openSync(outFile, "w");
    const e = openSync(errFile, "w");
    const t0 = performance.now();
    try {
      const r = spawnSync(cmd, args, {
        env: opts.env ?? this.env,
        cwd: this.dir,
        stdio: [opts.input !== undefined ? "pipe" : "ignore", o, e],
        input: opts.input,
        timeout: opts.timeout ?? 60_000,
        killSignal: "SIGKILL",
      });
      const ms = performance.now() - t0;
      return { code: r.status ?? 128 + 9, stdout: readFileSync(outFile, "utf8"), stderr: readFileSync(errFile, "utf8") + (r.error ? String(r.error) : ""), ms };
    } finally {
      closeSync(o);
      closeSync(e);
      rmSync(outFile, { force: true });
      rmSync(errFile, { force: true });
    }
  }

  /** runs `command` (a shell line) on a pseudo-terminal, as a user at a terminal would */
  onTerminal(command: string, timeout = 30_000): Result {
    const r = this.run("script", ["-qec", command, "/dev/null"], { timeout });
    // the terminal's CRLFs and the NUL some engines write when they attach
    return { ...r, stdout: r.stdout.replace(/\r/g, "").replace(/\0|\^@/g, "") };
  }

  // ---- Podman ---------------------------------------------------------------------------

  podmanArgs(): string[] {
    const d = this.dir;
    return [
      "--root", path.join(d, "podman-root"),
      "--runroot", path.join(d, "podman-runroot"),
      "--tmpdir", path.join(d, "podman-tmp"),
      "--network-config-dir", path.join(d, "podman-networks"),
      "--storage-driver", "overlay",
      "--cgroup-manager", "cgroupfs",
      "--events-backend", "file",
    ];
  }

  podman(args: string[], opts: { input?: string; timeout?: number } = {}): Result {
    return this.run("podman", [...this.podmanArgs(), ...args], opts);
  }

  /** the command line of `podman ARGS`, quoted for onTerminal */
  podmanLine(args: string[]): string {
    return ["podman", ...this.podmanArgs(), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  }

  /** `podman run` options every test container gets: our runtime, our cgroup parent, no network, no pull */
  runOpts(mode: Path): string[] {
    return ["--runtime", this.podmanRuntime[mode], "--cgroup-parent", `/${this.cgroupParent}/podman`, "--network", "none", "--pull", "never"];
  }

  setupPodman(): void {
    if (this.podmanReady) return;
    // Podman's rootful defaults raise RLIMIT_NOFILE to 1048576 and RLIMIT_NPROC to 32768 in
    // the container; a host whose hard limits are lower (and no CAP_SYS_RESOURCE) refuses
    // them in every runtime, runc too. So the defaults are the host's own hard limits.
    const nofile = Math.min(hardLimit("Max open files"), 1048576);
    const nproc = Math.min(hardLimit("Max processes"), 32768);
    writeFileSync(
      path.join(this.dir, "containers.conf"),
      [
        "[containers]",
        `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
        'netns = "none"',
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        // as for runc: errors come back in a JSON --log file
        'runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "berth-oci"]',
        "",
      ].join("\n"),
    );
    const rootfs = makeRootfs(path.join(this.dir, "rootfs"));
    const tarball = path.join(this.dir, "rootfs.tar");
    const tar = this.run("tar", ["-C", rootfs, "-cf", tarball, "."]);
    if (tar.code !== 0) throw new Error(`tar: ${tar.stderr}`);
    rmSync(rootfs, { recursive: true, force: true });
    const imp = this.podman(["import", "-q", tarball, IMAGE]);
    if (imp.code !== 0) throw new Error(`podman import: ${imp.stderr}`);
    this.podmanReady = true;
  }

  // ---- containerd -----------------------------------------------------------------------

  ctr(args: string[], opts: { timeout?: number } = {}): Result {
    return this.run("ctr", ["--address", this.ctrSocket, "--namespace", CTR_NAMESPACE, ...args], opts);
  }

  ctrLine(args: string[]): string {
    return ["ctr", "--address", this.ctrSocket, "--namespace", CTR_NAMESPACE, ...args].map((a) => `'${a}'`).join(" ");
  }

  /** `ctr run` options: a berth-oci binary as the shim's runc, its state and cgroup under our directory */
  ctrRunOpts(mode: Path, id: string): string[] {
    return ["--runc-binary", this.binary[mode], "--runc-root", path.join(this.dir, "ctr-runc-root"), "--cgroup", `/${this.cgroupParent}/ctr/${mode}-${id}`];
  }

  /** starts a containerd of our own and gives it the image (from Podman's store, as an OCI archive) */
  setupContainerd(): void {
    if (this.containerdPid) return;
    this.setupPodman();
    const d = path.join(this.dir, "containerd");
    mkdirSync(d);
    this.ctrSocket = path.join(d, "containerd.sock");
    const config = path.join(d, "config.toml");
    writeFileSync(
      config,
      [
        "version = 2",
        `root = "${d}/root"`,
        `state = "${d}/state"`,
        // no CRI, no /opt/containerd, no snapshotters this host cannot use
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
        "[grpc]",
        `  address = "${this.ctrSocket}"`,
        "[ttrpc]",
        `  address = "${this.ctrSocket}.ttrpc"`,
        "[debug]",
        `  address = "${d}/debug.sock"`,
        "",
      ].join("\n"),
    );
    const log = openSync(path.join(d, "containerd.log"), "w");
    // the shims inherit containerd's environment, and so does berth-oci: its warm service is ours
    const child = spawn("containerd", ["--config", config], {
      env: { ...process.env, BERTH_WARM_SOCKET: this.warmSocket, BERTH_WARM_IDLE_MS: "30000" },
      stdio: ["ignore", log, log],
      cwd: d,
    });
    closeSync(log);
    child.unref();
    this.containerdPid = child.pid;
    for (let i = 0; i < 500; i++) {
      if (existsSync(this.ctrSocket) && this.ctr(["version"], { timeout: 5000 }).code === 0) break;
      if (!alive(child.pid!)) throw new Error(`containerd exited: ${readFileSync(path.join(d, "containerd.log"), "utf8").slice(-2000)}`);
      sleepSync(20);
    }
    const archive = path.join(this.dir, "image.oci.tar");
    const save = this.podman(["save", "-q", "--format", "oci-archive", "-o", archive, IMAGE]);
    if (save.code !== 0) throw new Error(`podman save: ${save.stderr}`);
    const imp = this.ctr(["image", "import", archive]);
    if (imp.code !== 0) throw new Error(`ctr image import: ${imp.stderr}`);
  }

  // ---- cleanup --------------------------------------------------------------------------

  /** removes every container, stops every process and mount of ours, and the directory */
  teardown(): void {
    if (this.torn) return;
    this.torn = true;
    if (this.podmanReady) this.podman(["rm", "--all", "--force", "--time", "0"]);
    if (this.containerdPid) {
      for (const id of this.ctr(["task", "ls", "-q"]).stdout.split("\n").filter(Boolean)) {
        this.ctr(["task", "kill", "-s", "SIGKILL", id]);
        for (let i = 0; i < 100 && !/STOPPED/.test(this.ctr(["task", "ls"]).stdout.split("\n").find((l) => l.startsWith(id + " ")) ?? "STOPPED"); i++) sleepSync(20);
        this.ctr(["task", "rm", "-f", id]);
      }
      for (const id of this.ctr(["container", "ls", "-q"]).stdout.split("\n").filter(Boolean)) this.ctr(["container", "rm", id]);
      stopPid(this.containerdPid);
    }
    // the warm service (berth-oci's own, on our socket), by its pid
    try {
      stopPid(Number(readFileSync(this.warmSocket + ".pid", "utf8")));
    } catch {
      // never started
    }
    // conmon and `podman container cleanup` finish on their own; shims exit with their tasks;
    // whatever of ours (its command line names our directory) has not gone in 5 s is stopped
    for (let i = 0; i < 250 && processesMentioning(this.dir).length; i++) sleepSync(20);
    for (const pid of processesMentioning(this.dir)) stopPid(pid, 1000);
    for (const m of mountsUnder(this.dir).reverse()) spawnSync("umount", [m]);
    for (const m of mountsUnder(this.dir).reverse()) spawnSync("umount", ["-l", m]);
    for (const dir of cgroupDirs(this.cgroupParent)) rmCgroupTree(dir);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** the process's memory/pids cgroup files, read inside a container (cgroup v1 or v2) */
export const CGROUP_LIMITS_SH =
  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max";

/** the host's view of a cgroup's memory limit (v1 or v2) */
export function hostMemoryLimit(cgroup: string): string {
  const v2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  return readFileSync(v2 ? path.join("/sys/fs/cgroup", cgroup, "memory.max") : path.join("/sys/fs/cgroup/memory", cgroup, "memory.limit_in_bytes"), "utf8").trim();
}
