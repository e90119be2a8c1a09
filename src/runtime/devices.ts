// The devices every container gets (runtime-spec config-linux.md "Default Devices"),
// and the encoding of device numbers for mknod(2).
import type { Device, DeviceCgroupRule } from "../oci/runtime-spec.js";

export const DEFAULT_DEVICES: Device[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

/** symlinks under /dev: [target, link] */
export const DEFAULT_DEV_LINKS: [string, string][] = [
  ["/proc/self/fd", "/dev/fd"],
  ["/proc/self/fd/0", "/dev/stdin"],
  ["/proc/self/fd/1", "/dev/stdout"],
  ["/proc/self/fd/2", "/dev/stderr"],
];

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

export function deviceTypeBits(type: string): number {
  switch (type) {
    case "b":
      return S_IFBLK;
    case "p":
      return S_IFIFO;
    default:
      return S_IFCHR; // c and u
  }
}

/** glibc's makedev() */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/**
 * The device cgroup rules a container gets: the config's own rules, then access to the
 * default devices, pseudo-terminals and the config's linux.devices (as runc adds them).
 */
export function effectiveDeviceRules(rules: DeviceCgroupRule[] | undefined, devices: Device[] | undefined): DeviceCgroupRule[] {
  const out: DeviceCgroupRule[] = [...(rules ?? [])];
  for (const d of DEFAULT_DEVICES) out.push({ allow: true, type: "c", major: d.major, minor: d.minor, access: "rwm" });
  out.push({ allow: true, type: "c", major: 5, minor: 2, access: "rwm" }); // /dev/pts/ptmx
  out.push({ allow: true, type: "c", major: 136, minor: -1, access: "rwm" }); // /dev/pts/*
  for (const d of devices ?? []) {
    if (d.type === "p") continue;
    out.push({ allow: true, type: d.type === "u" ? "c" : d.type, major: d.major, minor: d.minor, access: "rwm" });
  }
  return out;
}
