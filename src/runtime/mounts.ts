// OCI mount options -> mount(2) flags, propagation changes and filesystem data.
import { invalidArgument } from "../errors.js";

export const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  MANDLOCK: 0x40,
  DIRSYNC: 0x80,
  NOSYMFOLLOW: 0x100,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  MOVE: 0x2000,
  REC: 0x4000,
  SILENT: 0x8000,
  UNBINDABLE: 0x20000,
  PRIVATE: 0x40000,
  SLAVE: 0x80000,
  SHARED: 0x100000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
  LAZYTIME: 0x2000000,
} as const;

/** option -> [clear?, flag] as mount(8) and the runtime spec understand them */
const FLAG_OPTIONS: Record<string, [boolean, number]> = {
  async: [true, MS.SYNCHRONOUS],
  atime: [true, MS.NOATIME],
  bind: [false, MS.BIND],
  defaults: [false, 0],
  dev: [true, MS.NODEV],
  diratime: [true, MS.NODIRATIME],
  dirsync: [false, MS.DIRSYNC],
  exec: [true, MS.NOEXEC],
  mand: [false, MS.MANDLOCK],
  noatime: [false, MS.NOATIME],
  nodev: [false, MS.NODEV],
  nodiratime: [false, MS.NODIRATIME],
  noexec: [false, MS.NOEXEC],
  nomand: [true, MS.MANDLOCK],
  norelatime: [true, MS.RELATIME],
  nostrictatime: [true, MS.STRICTATIME],
  nosuid: [false, MS.NOSUID],
  nosymfollow: [false, MS.NOSYMFOLLOW],
  rbind: [false, MS.BIND | MS.REC],
  relatime: [false, MS.RELATIME],
  remount: [false, MS.REMOUNT],
  ro: [false, MS.RDONLY],
  rw: [true, MS.RDONLY],
  silent: [false, MS.SILENT],
  loud: [true, MS.SILENT],
  strictatime: [false, MS.STRICTATIME],
  suid: [true, MS.NOSUID],
  sync: [false, MS.SYNCHRONOUS],
  lazytime: [false, MS.LAZYTIME],
  nolazytime: [true, MS.LAZYTIME],
};

const PROPAGATION_OPTIONS: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** every option name berth-oci understands, for the features document */
export const MOUNT_OPTION_NAMES: string[] = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION_OPTIONS), "tmpcopyup"].sort();

export interface ParsedMountOptions {
  flags: number;
  propagation: number[];
  data: string;
  bind: boolean;
}

export function parseMountOptions(options: readonly string[] | undefined, field: string): ParsedMountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const opt of options ?? []) {
    const flag = FLAG_OPTIONS[opt];
    if (flag) {
      const [clear, bit] = flag;
      flags = clear ? flags & ~bit : flags | bit;
      continue;
    }
    const prop = PROPAGATION_OPTIONS[opt];
    if (prop !== undefined) {
      propagation.push(prop);
      continue;
    }
    if (opt === "") throw invalidArgument(`${field}: empty mount option`);
    if (/^r(ro|rw|nosuid|suid|nodev|dev|noexec|exec|atime|noatime|relatime|strictatime)$/.test(opt) || opt === "idmap" || opt === "ridmap") {
      throw invalidArgument(`${field}: mount option "${opt}" is not supported by berth yet`);
    }
    if (opt === "tmpcopyup") continue; // a hint some engines send; berth's tmpfs mounts start empty
    data.push(opt);
  }
  return { flags, propagation, data: data.join(","), bind: (flags & MS.BIND) !== 0 };
}

export function propagationFlags(name: string, field: string): number {
  const f = PROPAGATION_OPTIONS[name];
  if (f === undefined) throw invalidArgument(`${field}: unknown propagation "${name}"`);
  return f;
}
