// Checks a config.json against the OCI runtime spec (config.md, config-linux.md) and
// reports the first problem as one line naming the field and what was expected:
//   config.json: mounts[2].destination: must be an absolute path
// Unknown properties are ignored, as the spec requires. Only the Linux parts are checked.

import { invalidArgument } from "../errors.js";
import { CAPABILITIES, unknownCapability } from "./capabilities.js";
import type { Process, Spec } from "./runtime-spec.js";

export const NAMESPACE_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"] as const;

/** setrlimit(2) resources by OCI name, with their numbers on Linux. */
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

export const ROOTFS_PROPAGATIONS = [
  "private",
  "rprivate",
  "slave",
  "rslave",
  "shared",
  "rshared",
  "unbindable",
  "runbindable",
] as const;

export const HOOK_KINDS = [
  "prestart",
  "createRuntime",
  "createContainer",
  "startContainer",
  "poststart",
  "poststop",
] as const;

const DEVICE_TYPES = ["c", "b", "u", "p"];
const CAPABILITY_SETS = ["bounding", "effective", "inheritable", "permitted", "ambient"];
const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
];
const SECCOMP_OPERATORS = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];
const SECCOMP_ARCHES = [
  "SCMP_ARCH_X86",
  "SCMP_ARCH_X86_64",
  "SCMP_ARCH_X32",
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
];
const SECCOMP_FLAGS = [
  "SECCOMP_FILTER_FLAG_TSYNC",
  "SECCOMP_FILTER_FLAG_LOG",
  "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
const IO_PRIORITY_CLASSES = ["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"];
const SCHEDULER_POLICIES = [
  "SCHED_OTHER",
  "SCHED_FIFO",
  "SCHED_RR",
  "SCHED_BATCH",
  "SCHED_ISO",
  "SCHED_IDLE",
  "SCHED_DEADLINE",
];
const SCHEDULER_FLAGS = [
  "SCHED_FLAG_RESET_ON_FORK",
  "SCHED_FLAG_RECLAIM",
  "SCHED_FLAG_DL_OVERRUN",
  "SCHED_FLAG_KEEP_POLICY",
  "SCHED_FLAG_KEEP_PARAMS",
  "SCHED_FLAG_UTIL_CLAMP_MIN",
  "SCHED_FLAG_UTIL_CLAMP_MAX",
];
const TIME_CLOCKS = ["boottime", "monotonic"];
const PERSONALITY_DOMAINS = ["LINUX", "LINUX32"];

// SemVer 2.0.0 (semver.org), which config.md requires of ociVersion.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export interface ValidateOptions {
  /** The document must have a `process` (create and run need one; default true). */
  requireProcess?: boolean;
}

/** Parses and validates the text of a config.json; `source` names it in errors ("config.json"). */
export function parseSpec(text: string, source: string, opts?: ValidateOptions): Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`${source}: invalid JSON: ${jsonErrorDetail(text, err)}`);
  }
  return validateSpec(value, source, opts);
}

/** Checks that `value` is a valid OCI runtime config and returns it typed; throws InvalidArgument otherwise. */
export function validateSpec(value: unknown, source: string, opts?: ValidateOptions): Spec {
  reporting(source, () => checkSpec(value, opts?.requireProcess ?? true));
  return value as Spec;
}

/** Checks a lone process document (`runc exec --process process.json`); fields are named from its top. */
export function validateProcess(value: unknown, source: string): Process {
  reporting(source, () => checkProcess(value, ""));
  return value as Process;
}

// ---- reporting -------------------------------------------------------------

/** A problem at a path inside the document; turned into one InvalidArgument line by `reporting`. */
class Problem {
  constructor(
    readonly path: string,
    readonly what: string,
  ) {}
}

function fail(path: string, what: string): never {
  throw new Problem(path, what);
}

function reporting(source: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    throw invalidArgument(err.path === "" ? `${source}: ${err.what}` : `${source}: ${err.path}: ${err.what}`);
  }
}

function jsonErrorDetail(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /at position (\d+)/.exec(message);
  if (!m) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split("\n").length;
  const column = before.length - before.lastIndexOf("\n");
  return `${message} (line ${line} column ${column})`;
}

// ---- paths and JSON types --------------------------------------------------

type Obj = Record<string, unknown>;

function at(path: string, key: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path === "" ? key : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

type Check = (v: unknown, path: string) => void;

/** Checks `o[key]` when it is present. */
function opt(o: Obj, key: string, path: string, check: Check): void {
  if (o[key] !== undefined) check(o[key], at(path, key));
}

/** Checks `o[key]`, which must be present; `expected` says what belongs there. */
function req(o: Obj, key: string, path: string, check: Check, expected: string): void {
  if (o[key] === undefined) fail(at(path, key), `missing (expected ${expected})`);
  check(o[key], at(path, key));
}

function object(v: unknown, path: string): Obj {
  if (!isObj(v)) fail(path, `expected an object, got ${jsonType(v)}`);
  return v;
}

function array(v: unknown, path: string, each?: Check): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${jsonType(v)}`);
  if (each) v.forEach((item, i) => each(item, `${path}[${i}]`));
  return v;
}

function arrayOf(each: Check): Check {
  return (v, path) => array(v, path, each);
}

const string: Check = (v, path) => {
  if (typeof v !== "string") fail(path, `expected a string, got ${jsonType(v)}`);
};

const boolean: Check = (v, path) => {
  if (typeof v !== "boolean") fail(path, `expected a boolean, got ${jsonType(v)}`);
};

const stringArray = arrayOf(string);

const stringMap: Check = (v, path) => {
  for (const [key, value] of Object.entries(object(v, path))) {
    if (key === "") fail(path, "keys must not be empty");
    string(value, at(path, key));
  }
};

/** The string must not contain NUL: it is handed to the kernel as a C string. */
const cString: Check = (v, path) => {
  string(v, path);
  if ((v as string).includes("\0")) fail(path, "must not contain a NUL byte");
};

const absolutePath: Check = (v, path) => {
  cString(v, path);
  if (!(v as string).startsWith("/")) fail(path, "must be an absolute path");
};

function oneOf(values: readonly string[], noun: string): Check {
  return (v, path) => {
    string(v, path);
    if (!values.includes(v as string)) {
      fail(path, `unknown ${noun} ${JSON.stringify(v)} (expected one of ${values.join(", ")})`);
    }
  };
}

// JSON numbers are doubles: 2^64-1 (RLIM_INFINITY, for one) parses as 2^64, so the
// 64-bit bounds are the nearest doubles.
function integer(min: number, max: number): Check {
  const expected =
    min === 0
      ? "a non-negative integer"
      : min === 1
        ? "a positive integer"
        : min <= -(2 ** 31)
          ? "an integer"
          : `an integer between ${min} and ${max}`;
  return (v, path) => {
    const got = typeof v === "number" ? String(v) : jsonType(v);
    if (typeof v !== "number" || !Number.isInteger(v)) fail(path, `expected ${expected}, got ${got}`);
    if (v < min) fail(path, `expected ${expected}, got ${got}`);
    if (v > max) {
      fail(path, expected.includes(" between ") ? `expected ${expected}, got ${got}` : `must be at most ${max}, got ${got}`);
    }
  };
}

const uint16 = integer(0, 0xffff);
const uint32 = integer(0, 0xffffffff);
const int32 = integer(-(2 ** 31), 2 ** 31 - 1);
const uint64 = integer(0, 2 ** 64);
const int64 = integer(-(2 ** 63), 2 ** 63);

// ---- the document ----------------------------------------------------------

function checkSpec(value: unknown, requireProcess: boolean): void {
  if (!isObj(value)) fail("", `expected a JSON object, got ${jsonType(value)}`);
  const spec = value;

  req(spec, "ociVersion", "", ociVersion, 'a SemVer version such as "1.2.0"');
  req(spec, "root", "", root, 'an object with a "path"');
  opt(spec, "mounts", "", arrayOf(mount));
  if (requireProcess) req(spec, "process", "", checkProcess, "an object");
  else opt(spec, "process", "", checkProcess);
  opt(spec, "hostname", "", string);
  opt(spec, "domainname", "", string);
  opt(spec, "hooks", "", hooks);
  opt(spec, "annotations", "", stringMap);
  opt(spec, "linux", "", linux);

  // config.md: a hostname can only be set in a UTS namespace of the container's own.
  for (const key of ["hostname", "domainname"]) {
    if (spec[key] !== undefined && spec[key] !== "" && !hasNamespace(spec, "uts")) {
      fail(key, 'needs a UTS namespace (add {"type": "uts"} to linux.namespaces)');
    }
  }
}

function hasNamespace(spec: Obj, type: string): boolean {
  const namespaces = isObj(spec.linux) ? spec.linux.namespaces : undefined;
  return Array.isArray(namespaces) && namespaces.some((ns) => isObj(ns) && ns.type === type);
}

const ociVersion: Check = (v, path) => {
  string(v, path);
  if (!SEMVER.test(v as string)) {
    fail(path, `${JSON.stringify(v)} is not a SemVer version (expected e.g. "1.2.0")`);
  }
};

const root: Check = (v, path) => {
  const o = object(v, path);
  req(o, "path", path, string, "a string");
  if (o.path === "") fail(at(path, "path"), "must not be empty");
  opt(o, "readonly", path, boolean);
};

const idMapping: Check = (v, path) => {
  const o = object(v, path);
  req(o, "containerID", path, uint32, "a non-negative integer");
  req(o, "hostID", path, uint32, "a non-negative integer");
  req(o, "size", path, uint32, "a non-negative integer");
};

const mount: Check = (v, path) => {
  const o = object(v, path);
  req(o, "destination", path, absolutePath, "an absolute path");
  opt(o, "source", path, cString);
  opt(o, "type", path, cString);
  opt(o, "options", path, stringArray);
  opt(o, "uidMappings", path, arrayOf(idMapping));
  opt(o, "gidMappings", path, arrayOf(idMapping));
};

const hook: Check = (v, path) => {
  const o = object(v, path);
  req(o, "path", path, absolutePath, "an absolute path");
  opt(o, "args", path, arrayOf(cString));
  opt(o, "env", path, arrayOf(envVar));
  opt(o, "timeout", path, integer(1, 2 ** 53));
};

const hooks: Check = (v, path) => {
  const o = object(v, path);
  for (const kind of HOOK_KINDS) opt(o, kind, path, arrayOf(hook));
};

// ---- process ---------------------------------------------------------------

function checkProcess(v: unknown, path: string): void {
  const o = object(v, path);
  opt(o, "terminal", path, boolean);
  opt(o, "consoleSize", path, consoleSize);
  req(o, "user", path, user, 'an object with "uid" and "gid"');
  const args = o.args;
  if (!Array.isArray(args) || args.length === 0) fail(at(path, "args"), "must be a non-empty array of strings");
  array(args, at(path, "args"), cString);
  opt(o, "commandLine", path, string);
  opt(o, "env", path, arrayOf(envVar));
  req(o, "cwd", path, absolutePath, "an absolute path");
  opt(o, "capabilities", path, capabilities);
  opt(o, "rlimits", path, rlimits);
  opt(o, "noNewPrivileges", path, boolean);
  opt(o, "apparmorProfile", path, string);
  opt(o, "oomScoreAdj", path, integer(-1000, 1000));
  opt(o, "selinuxLabel", path, string);
  opt(o, "ioPriority", path, ioPriority);
  opt(o, "scheduler", path, scheduler);
  opt(o, "execCPUAffinity", path, execCPUAffinity);
}

const consoleSize: Check = (v, path) => {
  const o = object(v, path);
  req(o, "height", path, uint32, "a non-negative integer");
  req(o, "width", path, uint32, "a non-negative integer");
};

const user: Check = (v, path) => {
  const o = object(v, path);
  req(o, "uid", path, uint32, "a non-negative integer");
  req(o, "gid", path, uint32, "a non-negative integer");
  opt(o, "umask", path, uint32);
  opt(o, "additionalGids", path, arrayOf(uint32));
  opt(o, "username", path, string);
};

const envVar: Check = (v, path) => {
  cString(v, path);
  if ((v as string).indexOf("=") < 1) fail(path, `must be of the form KEY=value, got ${JSON.stringify(v)}`);
};

const capabilityName: Check = (v, path) => {
  string(v, path);
  if (!Object.hasOwn(CAPABILITIES, v as string)) fail(path, unknownCapability(v as string));
};

const capabilities: Check = (v, path) => {
  const o = object(v, path);
  for (const set of CAPABILITY_SETS) opt(o, set, path, arrayOf(capabilityName));
};

const rlimitType = oneOf(Object.keys(RLIMITS).sort(), "rlimit type");

const rlimits: Check = (v, path) => {
  const seen = new Map<string, string>();
  array(v, path, (item, itemPath) => {
    const o = object(item, itemPath);
    req(o, "type", itemPath, rlimitType, "an RLIMIT_* name");
    req(o, "soft", itemPath, uint64, "a non-negative integer");
    req(o, "hard", itemPath, uint64, "a non-negative integer");
    const type = o.type as string;
    const first = seen.get(type);
    if (first !== undefined) fail(at(itemPath, "type"), `duplicate rlimit type "${type}" (also at ${first})`);
    seen.set(type, itemPath);
    if ((o.soft as number) > (o.hard as number)) {
      fail(itemPath, `soft limit ${o.soft} is greater than hard limit ${o.hard}`);
    }
  });
};

const ioPriority: Check = (v, path) => {
  const o = object(v, path);
  req(o, "class", path, oneOf(IO_PRIORITY_CLASSES, "I/O priority class"), "an IOPRIO_CLASS_* name");
  opt(o, "priority", path, integer(0, 7));
};

const scheduler: Check = (v, path) => {
  const o = object(v, path);
  req(o, "policy", path, oneOf(SCHEDULER_POLICIES, "scheduler policy"), "a SCHED_* name");
  opt(o, "nice", path, integer(-20, 19));
  opt(o, "priority", path, int32);
  opt(o, "flags", path, arrayOf(oneOf(SCHEDULER_FLAGS, "scheduler flag")));
  opt(o, "runtime", path, uint64);
  opt(o, "deadline", path, uint64);
  opt(o, "period", path, uint64);
};

const execCPUAffinity: Check = (v, path) => {
  const o = object(v, path);
  opt(o, "initial", path, string);
  opt(o, "final", path, string);
};

// ---- linux -----------------------------------------------------------------

const linux: Check = (v, path) => {
  const o = object(v, path);
  opt(o, "namespaces", path, namespaces);
  opt(o, "uidMappings", path, arrayOf(idMapping));
  opt(o, "gidMappings", path, arrayOf(idMapping));
  opt(o, "timeOffsets", path, timeOffsets);
  opt(o, "devices", path, arrayOf(device));
  opt(o, "cgroupsPath", path, cString);
  opt(o, "resources", path, resources);
  opt(o, "rootfsPropagation", path, oneOf(ROOTFS_PROPAGATIONS, "rootfs propagation"));
  opt(o, "seccomp", path, seccomp);
  opt(o, "sysctl", path, stringMap);
  opt(o, "maskedPaths", path, arrayOf(absolutePath));
  opt(o, "readonlyPaths", path, arrayOf(absolutePath));
  opt(o, "mountLabel", path, string);
  opt(o, "personality", path, personality);
  opt(o, "intelRdt", path, intelRdt);
};

const namespaceType = oneOf(NAMESPACE_TYPES, "namespace type");

const namespaces: Check = (v, path) => {
  const seen = new Map<string, string>();
  array(v, path, (item, itemPath) => {
    const o = object(item, itemPath);
    req(o, "type", itemPath, namespaceType, "a namespace type");
    opt(o, "path", itemPath, absolutePath);
    const type = o.type as string;
    const first = seen.get(type);
    if (first !== undefined) fail(at(itemPath, "type"), `duplicate namespace type "${type}" (also at ${first})`);
    seen.set(type, itemPath);
  });
};

const timeOffsets: Check = (v, path) => {
  for (const [clock, offset] of Object.entries(object(v, path))) {
    const clockPath = at(path, clock);
    if (!TIME_CLOCKS.includes(clock)) {
      fail(clockPath, `unknown clock ${JSON.stringify(clock)} (expected one of ${TIME_CLOCKS.join(", ")})`);
    }
    const o = object(offset, clockPath);
    opt(o, "secs", clockPath, int64);
    opt(o, "nanosecs", clockPath, uint32);
  }
};

const device: Check = (v, path) => {
  const o = object(v, path);
  req(o, "type", path, oneOf(DEVICE_TYPES, "device type"), "one of c, b, u, p");
  req(o, "path", path, absolutePath, "an absolute path");
  if (o.type === "p") {
    opt(o, "major", path, int64);
    opt(o, "minor", path, int64);
  } else {
    const needed = `an integer; required for device type "${o.type}"`;
    req(o, "major", path, int64, needed);
    req(o, "minor", path, int64, needed);
  }
  opt(o, "fileMode", path, uint32);
  opt(o, "uid", path, uint32);
  opt(o, "gid", path, uint32);
};

// ---- linux.resources -------------------------------------------------------

const nullableInt64: Check = (v, path) => {
  if (v !== null) int64(v, path);
};

const deviceRule: Check = (v, path) => {
  const o = object(v, path);
  req(o, "allow", path, boolean, "a boolean");
  opt(o, "type", path, oneOf(["a", "c", "b"], "device type"));
  opt(o, "major", path, nullableInt64);
  opt(o, "minor", path, nullableInt64);
  opt(o, "access", path, (a, p) => {
    string(a, p);
    if (!/^[rwm]*$/.test(a as string)) fail(p, `expected letters from "rwm", got ${JSON.stringify(a)}`);
  });
};

const memory: Check = (v, path) => {
  const o = object(v, path);
  for (const key of ["limit", "reservation", "swap", "kernel", "kernelTCP"]) opt(o, key, path, int64);
  opt(o, "swappiness", path, integer(0, 100));
  for (const key of ["disableOOMKiller", "useHierarchy", "checkBeforeUpdate"]) opt(o, key, path, boolean);
};

const cpu: Check = (v, path) => {
  const o = object(v, path);
  for (const key of ["shares", "burst", "period", "realtimePeriod"]) opt(o, key, path, uint64);
  for (const key of ["quota", "realtimeRuntime", "idle"]) opt(o, key, path, int64);
  opt(o, "cpus", path, string);
  opt(o, "mems", path, string);
};

const pids: Check = (v, path) => {
  req(object(v, path), "limit", path, int64, "an integer");
};

const blockIODevice = (extra: (o: Obj, path: string) => void): Check => {
  return (v, path) => {
    const o = object(v, path);
    req(o, "major", path, int64, "an integer");
    req(o, "minor", path, int64, "an integer");
    extra(o, path);
  };
};

const weightDevice = blockIODevice((o, path) => {
  opt(o, "weight", path, uint16);
  opt(o, "leafWeight", path, uint16);
});

const throttleDevice = blockIODevice((o, path) => {
  req(o, "rate", path, uint64, "a non-negative integer");
});

const blockIO: Check = (v, path) => {
  const o = object(v, path);
  opt(o, "weight", path, uint16);
  opt(o, "leafWeight", path, uint16);
  opt(o, "weightDevice", path, arrayOf(weightDevice));
  for (const key of [
    "throttleReadBpsDevice",
    "throttleWriteBpsDevice",
    "throttleReadIOPSDevice",
    "throttleWriteIOPSDevice",
  ]) {
    opt(o, key, path, arrayOf(throttleDevice));
  }
};

const hugepageLimit: Check = (v, path) => {
  const o = object(v, path);
  req(o, "pageSize", path, string, 'a string such as "2MB"');
  req(o, "limit", path, uint64, "a non-negative integer");
};

const network: Check = (v, path) => {
  const o = object(v, path);
  opt(o, "classID", path, uint32);
  opt(
    o,
    "priorities",
    path,
    arrayOf((p, pPath) => {
      const po = object(p, pPath);
      req(po, "name", pPath, string, "an interface name");
      req(po, "priority", pPath, uint32, "a non-negative integer");
    }),
  );
};

const rdma: Check = (v, path) => {
  for (const [device, limits] of Object.entries(object(v, path))) {
    const o = object(limits, at(path, device));
    opt(o, "hcaHandles", at(path, device), uint32);
    opt(o, "hcaObjects", at(path, device), uint32);
  }
};

const resources: Check = (v, path) => {
  const o = object(v, path);
  opt(o, "devices", path, arrayOf(deviceRule));
  opt(o, "memory", path, memory);
  opt(o, "cpu", path, cpu);
  opt(o, "pids", path, pids);
  opt(o, "blockIO", path, blockIO);
  opt(o, "hugepageLimits", path, arrayOf(hugepageLimit));
  opt(o, "network", path, network);
  opt(o, "rdma", path, rdma);
  opt(o, "unified", path, stringMap);
};

// ---- linux.seccomp and the rest --------------------------------------------

const seccompAction = oneOf(SECCOMP_ACTIONS, "seccomp action");

const seccompArg: Check = (v, path) => {
  const o = object(v, path);
  req(o, "index", path, integer(0, 5), "a syscall argument index 0-5");
  req(o, "value", path, uint64, "a non-negative integer");
  opt(o, "valueTwo", path, uint64);
  req(o, "op", path, oneOf(SECCOMP_OPERATORS, "seccomp operator"), "a SCMP_CMP_* name");
};

const syscall: Check = (v, path) => {
  const o = object(v, path);
  const names = o.names;
  if (!Array.isArray(names) || names.length === 0) fail(at(path, "names"), "must be a non-empty array of strings");
  array(names, at(path, "names"), string);
  req(o, "action", path, seccompAction, "a SCMP_ACT_* name");
  opt(o, "errnoRet", path, uint32);
  opt(o, "args", path, arrayOf(seccompArg));
};

const seccomp: Check = (v, path) => {
  const o = object(v, path);
  req(o, "defaultAction", path, seccompAction, "a SCMP_ACT_* name");
  opt(o, "defaultErrnoRet", path, uint32);
  opt(o, "architectures", path, arrayOf(oneOf(SECCOMP_ARCHES, "seccomp architecture")));
  opt(o, "flags", path, arrayOf(oneOf(SECCOMP_FLAGS, "seccomp flag")));
  opt(o, "listenerPath", path, absolutePath);
  opt(o, "listenerMetadata", path, string);
  opt(o, "syscalls", path, arrayOf(syscall));
  // config-linux.md: SCMP_ACT_NOTIFY needs a listener to hand the notify fd to.
  const notify =
    o.defaultAction === "SCMP_ACT_NOTIFY" ||
    (Array.isArray(o.syscalls) && o.syscalls.some((s) => isObj(s) && s.action === "SCMP_ACT_NOTIFY"));
  if (notify && o.listenerPath === undefined) {
    fail(at(path, "listenerPath"), "missing (required when an action is SCMP_ACT_NOTIFY)");
  }
};

const personality: Check = (v, path) => {
  const o = object(v, path);
  req(o, "domain", path, oneOf(PERSONALITY_DOMAINS, "personality domain"), "LINUX or LINUX32");
  opt(o, "flags", path, stringArray);
};

const intelRdt: Check = (v, path) => {
  const o = object(v, path);
  for (const key of ["closID", "l3CacheSchema", "memBwSchema"]) opt(o, key, path, string);
  for (const key of ["enableCMT", "enableMBM", "enableMonitoring"]) opt(o, key, path, boolean);
};
