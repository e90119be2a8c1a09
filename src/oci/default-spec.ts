// The starting config.json that `berth-oci spec` writes: the document `runc spec`
// (and `runc spec --rootless`) produces, with berth's hostname.

import { OCI_VERSION, type Mount, type Spec } from "./runtime-spec.js";

export interface DefaultSpecOptions {
  /** Like `runc spec --rootless`: a user namespace mapping `uid`/`gid` to root, no network namespace. */
  rootless?: boolean;
  /** The host user mapped to root in a rootless spec (runc takes its own euid); default 0. */
  uid?: number;
  /** The host group mapped to root in a rootless spec (runc takes its own egid); default 0. */
  gid?: number;
}

// runc ≥ 1.2 leaves ambient out: an ambient capability must also be inheritable, which
// these defaults are not, so listing it could only fail (runc PR #4367).
const DEFAULT_CAPABILITIES = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

export function defaultSpec(opts: DefaultSpecOptions = {}): Spec {
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ["sh"],
      env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
      cwd: "/",
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: "RLIMIT_NOFILE", hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: "rootfs", readonly: true },
    hostname: "berth",
    mounts: [
      { destination: "/proc", type: "proc", source: "proc" },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
      },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
      {
        destination: "/sys/fs/cgroup",
        type: "cgroup",
        source: "cgroup",
        options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
      },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: "rwm" }] },
      namespaces: [
        { type: "pid" },
        { type: "network" },
        { type: "ipc" },
        { type: "uts" },
        { type: "mount" },
        { type: "cgroup" },
      ],
      maskedPaths: [
        "/proc/acpi",
        "/proc/asound",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/sys/firmware",
        "/proc/scsi",
        "/sys/devices/virtual/tpm",
      ],
      readonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
    },
  };
  return opts.rootless ? toRootless(spec, opts.uid ?? 0, opts.gid ?? 0) : spec;
}

/** What `runc spec --rootless` changes (runc's specconv.ToRootless), keeping runc's key order. */
function toRootless(spec: Spec, uid: number, gid: number): Spec {
  const { namespaces = [], maskedPaths, readonlyPaths } = spec.linux ?? {};
  spec.linux = {
    uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
    gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
    // No network namespace: an unprivileged user could not connect it to anything.
    namespaces: [...namespaces.filter((ns) => ns.type !== "network" && ns.type !== "user"), { type: "user" }],
    maskedPaths,
    readonlyPaths,
    // No resources: without a delegated cgroup the user cannot set limits.
  };
  spec.mounts = (spec.mounts ?? []).map((m): Mount => {
    // Mounting a sysfs needs a network namespace of one's own, so bind the host's.
    if (m.destination === "/sys") {
      return { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", "ro"] };
    }
    // gid=5 (tty) is not mapped in a one-id user namespace.
    const options = m.options?.filter((o) => !o.startsWith("uid=") && !o.startsWith("gid="));
    return options === undefined ? m : { ...m, options };
  });
  return spec;
}
