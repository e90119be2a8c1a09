// The syscalls Node's fs lacks (mknod, l*xattr, mount, umount2, recvmsg with SCM_RIGHTS), from
// the small N-API addon native/berth-sys.c.
// Loaded on first use, so programs that never call these do not need the addon built.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { unavailable } from "../errors.js";

interface Addon {
  mknod(path: string, mode: number, dev: bigint | number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  lgetxattr(path: string, name: string): Buffer | undefined;
  llistxattr(path: string): string[];
  mount(source: string, target: string, fstype: string, flags: number, data: string, cwd?: string): void;
  umount2(target: string, flags: number): void;
  recvFds(fd: number, length: number, timeoutMs: number): { data: Buffer; fds: number[] };
}

let addon: Addon | undefined;

function sys(): Addon {
  if (addon) return addon;
  // dist/src/sys/ and the CLI bundles in dist/src/cli/ are at the same depth below the project
  const file = fileURLToPath(new URL("../../../native/build/berth_sys.node", import.meta.url));
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    throw unavailable(`berth-sys addon ${file}: ${(e as Error).message.split("\n")[0]}`, "build it with `make -C native`");
  }
  return addon;
}

/** mknod(2). Errors are thrown as Node's fs errors are, with `.code` ("EPERM") and `.syscall`. */
export function mknod(path: string, mode: number, dev: bigint | number = 0): void {
  sys().mknod(path, mode, dev);
}

/** lsetxattr(2): sets an extended attribute without following a final symlink. */
export function lsetxattr(path: string, name: string, value: Buffer): void {
  sys().lsetxattr(path, name, value);
}

/** lgetxattr(2): the attribute's value, or undefined when it is not set (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  return sys().lgetxattr(path, name);
}

/** llistxattr(2): the names of the extended attributes the caller may see. */
export function llistxattr(path: string): string[] {
  return sys().llistxattr(path);
}

/** mount(2) in this process (no `mount` binary); relative paths in `data` resolve against `cwd`. */
export function mount(source: string, target: string, fstype: string, flags: number, data: string, cwd?: string): void {
  sys().mount(source, target, fstype, flags, data, cwd);
}

/** umount2(2)'s MNT_DETACH: lazily, once the last user has gone. */
export const MNT_DETACH = 2;

/** umount2(2). */
export function umount2(target: string, flags = 0): void {
  sys().umount2(target, flags);
}

/**
 * Up to `length` bytes from a unix stream socket's fd and the fds that came with them
 * (SCM_RIGHTS; close-on-exec), waiting at most `timeoutMs` (this blocks the event loop:
 * for a peer that has already sent). Fewer bytes when the peer closed or the time is up.
 */
export function recvFds(fd: number, length: number, timeoutMs: number): { data: Buffer; fds: number[] } {
  return sys().recvFds(fd, length, timeoutMs);
}

// Device numbers encoded as glibc's makedev/major/minor do (12+20 bits of major, 8+24 of minor).
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffn) << 8n) | ((ma & 0xfffff000n) << 32n) | (mi & 0xffn) | ((mi & 0xffffff00n) << 12n);
}

export function devMajor(dev: bigint | number): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n));
}

export function devMinor(dev: bigint | number): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n));
}
