// --systemd: a container whose PID 1 is systemd gets what systemd needs to boot, as Podman's
// --systemd and systemd-nspawn give it: tmpfs on /run, /run/lock and /tmp, its own cgroup of
// the name=systemd hierarchy writable (cgroup v1) or its cgroup2 tree writable (v2),
// container=berth in PID 1's environment, an /etc/machine-id (the image's, else its own), and SIGRTMIN+3 (what
// systemd takes as "halt") as the stop signal. Its journal reaches `berth logs`: a journald
// drop-in (in /run, so the image is not changed) has journald forward every record at info or
// above to /dev/kmsg, which is a FIFO of the run dir that the container's monitor reads into
// the log, as systemd-nspawn shows a booted container's journal on its console.
import * as fs from "node:fs";
import path from "node:path";
import { cgroupManager } from "../cgroups/index.js";
import { invalidArgument } from "../errors.js";
import { isRootless, mknod } from "../sys/index.js";
import type { Mount, Spec } from "../oci/index.js";
import type { HostConfig } from "./options.js";

/** Where images keep systemd (merged /usr or not) and the init links to it. */
const SYSTEMD_PATHS = ["usr/lib/systemd/systemd", "lib/systemd/systemd", "sbin/init", "usr/sbin/init"];

/** systemd's own halt signal: `stop` sends it unless --stop-signal or the image's StopSignal say otherwise. */
export const SYSTEMD_STOP_SIGNAL = "SIGRTMIN+3";

/** Whether the command is systemd: `systemd`, /sbin/init, /usr/sbin/init or a path ending in /systemd. */
export function isSystemdCommand(args: string[]): boolean {
  const a = args[0] ?? "";
  return a === "systemd" || a === "/sbin/init" || a === "/usr/sbin/init" || (a.startsWith("/") && path.posix.basename(a) === "systemd");
}

/** Whether the container is prepared for systemd (`--systemd`, default true: when the command is systemd). */
export function systemdOn(h: HostConfig, args: string[]): boolean {
  const mode = h.systemd ?? "true";
  return mode === "always" || (mode === "true" && isSystemdCommand(args));
}

/**
 * --systemd=always with an image that has no systemd: refused at create, one line. `layers`
 * are the image's layer directories, topmost first (a path in any of them counts).
 */
export function checkImageHasSystemd(layers: string[], image: string): void {
  const found = SYSTEMD_PATHS.some((p) => layers.some((dir) => fs.lstatSync(path.join(dir, p), { throwIfNoEntry: false })));
  if (!found) throw invalidArgument(`--systemd=always: image ${image} has no systemd (none of /${SYSTEMD_PATHS.join(", /")})`);
}

/** The host directory of the container's cgroup in the name=systemd hierarchy (v1), if the host has one. */
function systemdCgroupDir(cgroupsPath: string, id: string): string | undefined {
  return cgroupManager({ cgroupsPath, containerId: id, mode: "v1" }).paths()["name=systemd"];
}

/**
 * The container's /etc/machine-id, unless the image has one: written into its writable layer
 * (a bind-mounted one makes systemd-machine-id-commit fail and the system "degraded"). Never
 * through a symlink the image planted.
 */
function writeMachineId(rootfs: string, id: string): void {
  const etc = path.join(rootfs, "etc");
  if (!fs.lstatSync(etc, { throwIfNoEntry: false })?.isDirectory()) return;
  const file = path.join(etc, "machine-id");
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st && !st.isFile()) return;
  if (st && /^[0-9a-f]{32}\s*$/.test(fs.readFileSync(file, "utf8"))) return;
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW, 0o444);
  try {
    fs.writeSync(fd, `${id.slice(0, 32)}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/** journald's settings for a berth system container: forward to /dev/kmsg (the FIFO), never read it. */
const JOURNALD_DROP_IN = `# berth: the journal goes to the container's log (berth logs) through /dev/kmsg, a FIFO
[Journal]
ForwardToKMsg=yes
MaxLevelKMsg=info
ReadKMsg=no
`;

/** The FIFO and the drop-in in the container's run dir, and the mounts that put them in place. */
function journalToLog(runDir: string): { fifo: string; mounts: Mount[] } {
  const fifo = path.join(runDir, "journal");
  const dropIn = path.join(runDir, "journald.conf");
  fs.rmSync(fifo, { force: true }); // a restart makes it again
  mknod(fifo, fs.constants.S_IFIFO | 0o600);
  fs.writeFileSync(dropIn, JOURNALD_DROP_IN);
  const bind = (source: string, destination: string, ro: boolean): Mount => ({ destination, type: "bind", source, options: ["bind", "nosuid", "nodev", "noexec", ...(ro ? ["ro"] : [])] });
  // named to sort last, so that the image's own drop-ins do not undo it
  return { fifo, mounts: [bind(dropIn, "/run/systemd/journald.conf.d/zz-berth.conf", true), bind(fifo, "/dev/kmsg", false)] };
}

/**
 * Adds to the spec what systemd as PID 1 needs (the rootfs is mounted: its machine-id is
 * written there). Returns the FIFO the container's journal arrives on, for its monitor.
 */
export function prepareForSystemd(spec: Spec, id: string, cgroupMode: "v1" | "v2", runDir: string): { journal: string } {
  writeMachineId(spec.root!.path, id);
  const tmpfs = (destination: string, options: string[]): Mount => ({ destination, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", ...options] });
  const mounts = (spec.mounts ?? []).filter((m) => !["/run", "/run/lock", "/tmp"].includes(m.destination));
  mounts.push(tmpfs("/run", ["mode=755"]), tmpfs("/run/lock", ["noexec", "mode=755", "size=5m"]), tmpfs("/tmp", ["mode=1777"]));
  const cgroup = mounts.find((m) => m.type === "cgroup");
  if (isRootless()) {
    // no cgroup of its own to give it (none delegated): systemd runs without one
  } else if (cgroupMode === "v2") {
    // its own cgroup2 tree, writable: systemd makes its slices there
    if (cgroup) cgroup.options = (cgroup.options ?? []).filter((o) => o !== "ro");
  } else {
    // v1: the controllers stay read-only; its name=systemd cgroup is mounted writable over them
    const dir = systemdCgroupDir(spec.linux?.cgroupsPath ?? "", id);
    // made here, as the runtime makes (and later removes) the others: a bind source must exist
    if (dir) fs.mkdirSync(dir, { recursive: true });
    if (dir) mounts.push({ destination: "/sys/fs/cgroup/systemd", type: "bind", source: dir, options: ["rbind", "rprivate", "nosuid", "nodev", "noexec"] });
  }
  const journal = journalToLog(runDir);
  spec.mounts = [...mounts, ...journal.mounts];
  const env = spec.process!.env ?? [];
  if (!env.some((e) => e.startsWith("container="))) env.push("container=berth");
  spec.process!.env = env;
  return { journal: journal.fifo };
}
