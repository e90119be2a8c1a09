// OCI seccomp profile (config-linux.md "Seccomp") -> classic BPF program for
// seccomp(SECCOMP_SET_MODE_FILTER). The C executor only loads the bytes; every decision is here.
//
// Semantics follow runc + libseccomp:
// - The native architecture is always in the filter; `architectures` adds more. A syscall made
//   from any other architecture gets libseccomp's default bad-arch action, KILL (thread).
// - On x86_64, x32 syscalls (nr with bit 30 set) are killed unless SCMP_ARCH_X32 is listed;
//   nr -1 (a tracer skipping the call) gets the default action.
// - Names are resolved per architecture; a name an architecture lacks is skipped there, and a name
//   no architecture knows is skipped everywhere (reported in `unknownSyscalls`).
// - A rule whose action equals the default action is dropped (runc does, as libseccomp refuses it).
// - A rule's args are ANDed, except that when two args name the same index every arg becomes a
//   rule of its own and those are ORed (runc's "multiple args on one index" fallback).
// - Like runc's -ENOSYS stub, unless the default action lets calls through (ALLOW, LOG, TRACE),
//   syscall numbers above the highest one the profile names return ENOSYS instead of the default
//   action, so libc falls back from syscalls newer than the profile (clone3 -> clone).
// - Several rules for one syscall: as in libseccomp, a rule without args overrides every rule
//   with args (the first such rule if there are several). Otherwise the first rule in profile
//   order whose args all match decides; libseccomp resolves rules whose args overlap through its
//   own decision tree instead, which can differ. Docker's profile has no such overlaps.
//
// The program: check the arch, load nr, binary-search the syscall number over ranges of equal
// action (so the Docker profile is a few hundred instructions and about ten comparisons per
// call), and at a syscall with argument rules, test them in order.

import { invalidArgument, failedPrecondition } from "../../errors.js";
import type { Seccomp } from "../../oci/runtime-spec.js";
import { Assembler, BPF, BPF_MAXINSNS, Label } from "./bpf.js";
import * as tables from "./syscalls.js";
import type { SyscallTable } from "./syscalls.js";

/** Filter return values (linux/seccomp.h SECCOMP_RET_*); ERRNO and TRACE carry 16 bits of data. */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

/** seccomp(2) SECCOMP_FILTER_FLAG_* bits. */
export const SECCOMP_FILTER_FLAG = {
  TSYNC: 1,
  LOG: 2,
  SPEC_ALLOW: 4,
  NEW_LISTENER: 8,
  TSYNC_ESRCH: 16,
  WAIT_KILLABLE_RECV: 32,
} as const;

/** linux/audit.h AUDIT_ARCH_* as seen in seccomp_data.arch. */
export const AUDIT_ARCH = {
  X86_64: 0xc000003e,
  I386: 0x40000003,
  AARCH64: 0xc00000b7,
  ARM: 0x40000028,
} as const;

const X32_SYSCALL_BIT = 0x40000000;
const EPERM = 1;
const ENOSYS = 38;
/** libseccomp's default SCMP_FLTATR_ACT_BADARCH. */
const BAD_ARCH_ACTION = SECCOMP_RET.KILL_THREAD;

export type SeccompArch = "SCMP_ARCH_X86_64" | "SCMP_ARCH_X86" | "SCMP_ARCH_X32" | "SCMP_ARCH_AARCH64" | "SCMP_ARCH_ARM";

interface ArchInfo {
  audit: number;
  table: SyscallTable;
  /** Added to every number of the table (x32). */
  base: number;
  /** Width of syscall arguments: 32-bit ABIs compare only the low word, as libseccomp does. */
  bits: 32 | 64;
}

const ARCHES: Record<SeccompArch, ArchInfo> = {
  SCMP_ARCH_X86_64: { audit: AUDIT_ARCH.X86_64, table: tables.X86_64, base: 0, bits: 64 },
  SCMP_ARCH_X32: { audit: AUDIT_ARCH.X86_64, table: tables.X32, base: X32_SYSCALL_BIT, bits: 64 },
  SCMP_ARCH_X86: { audit: AUDIT_ARCH.I386, table: tables.X86, base: 0, bits: 32 },
  SCMP_ARCH_AARCH64: { audit: AUDIT_ARCH.AARCH64, table: tables.AARCH64, base: 0, bits: 64 },
  SCMP_ARCH_ARM: { audit: AUDIT_ARCH.ARM, table: tables.ARM, base: 0, bits: 32 },
};

// Architectures of the runtime-spec that berth has no syscall tables for. They can only occur on
// hosts of that architecture (which berth does not support), so they are accepted and ignored.
const FOREIGN_ARCHES = new Set([
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
]);

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: SECCOMP_FILTER_FLAG.TSYNC,
  SECCOMP_FILTER_FLAG_LOG: SECCOMP_FILTER_FLAG.LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: SECCOMP_FILTER_FLAG.SPEC_ALLOW,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV,
};

const ACTIONS = [
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

type Op = "SCMP_CMP_NE" | "SCMP_CMP_LT" | "SCMP_CMP_LE" | "SCMP_CMP_EQ" | "SCMP_CMP_GE" | "SCMP_CMP_GT" | "SCMP_CMP_MASKED_EQ";
const OPS: readonly string[] = [
  "SCMP_CMP_NE",
  "SCMP_CMP_LT",
  "SCMP_CMP_LE",
  "SCMP_CMP_EQ",
  "SCMP_CMP_GE",
  "SCMP_CMP_GT",
  "SCMP_CMP_MASKED_EQ",
];

export interface CompiledSeccomp {
  /** struct sock_filter[] (8 bytes each, host byte order = little endian). */
  program: Buffer;
  /** SECCOMP_FILTER_FLAG_* bits to pass to seccomp(2). */
  flags: number;
  /** Syscall names no architecture of the filter knows; skipped, as runc does (it logs them). */
  unknownSyscalls: string[];
}

export interface CompileOptions {
  /** The architecture the container runs as; default: this host's. */
  nativeArch?: SeccompArch;
}

/** The seccomp architecture of this host (libseccomp's "native" architecture). */
export function nativeSeccompArch(): SeccompArch {
  switch (process.arch) {
    case "x64":
      return "SCMP_ARCH_X86_64";
    case "arm64":
      return "SCMP_ARCH_AARCH64";
    case "ia32":
      return "SCMP_ARCH_X86";
    case "arm":
      return "SCMP_ARCH_ARM";
  }
  throw failedPrecondition(`seccomp: berth has no syscall table for this host's architecture (${process.arch})`);
}

interface Cond {
  index: number;
  op: Op;
  value: bigint;
  valueTwo: bigint;
}

interface Rule {
  names: string[];
  action: number;
  conds: Cond[];
}

/**
 * Compiles an OCI seccomp profile into a BPF program. Throws BerthError InvalidArgument with a
 * one-line message naming the field, e.g.
 * `config.json: linux.seccomp.syscalls[3].action: unknown action "SCMP_ACT_FOO"`.
 */
export function compileSeccomp(profile: Seccomp, field = "config.json: linux.seccomp", options: CompileOptions = {}): CompiledSeccomp {
  const p = parseProfile(profile, field);
  const native = options.nativeArch ?? nativeSeccompArch();
  const arches = [...new Set<SeccompArch>([native, ...p.arches])];

  const asm = new Assembler();
  // Group by AUDIT_ARCH: x86_64 and x32 share one and are told apart by bit 30 of nr.
  const groups = new Map<number, { label: Label; arches: SeccompArch[] }>();
  for (const a of arches) {
    const g = groups.get(ARCHES[a].audit) ?? { label: new Label(a), arches: [] };
    g.arches.push(a);
    groups.set(ARCHES[a].audit, g);
  }
  asm.load(4);
  for (const [audit, g] of groups) asm.branch(BPF.JEQ_K, audit, g.label, undefined);
  asm.ret(BAD_ARCH_ACTION);
  for (const [audit, g] of groups) {
    asm.label(g.label);
    asm.load(0);
    if (audit !== AUDIT_ARCH.X86_64) {
      emitSyscalls(asm, p, g.arches[0]!, 0, 0xffffffff);
      continue;
    }
    const high = new Label("x32");
    asm.branch(BPF.JGE_K, X32_SYSCALL_BIT, high, undefined);
    if (g.arches.includes("SCMP_ARCH_X86_64")) emitSyscalls(asm, p, "SCMP_ARCH_X86_64", 0, X32_SYSCALL_BIT - 1);
    else asm.ret(BAD_ARCH_ACTION);
    asm.label(high);
    const notSkip = new Label("not -1");
    asm.branch(BPF.JEQ_K, 0xffffffff, undefined, notSkip);
    asm.ret(p.defaultAction);
    asm.label(notSkip);
    if (g.arches.includes("SCMP_ARCH_X32")) emitSyscalls(asm, p, "SCMP_ARCH_X32", X32_SYSCALL_BIT, 0xfffffffe);
    else asm.ret(BAD_ARCH_ACTION);
  }
  const program = asm.assemble();
  const count = program.length / 8;
  if (count > BPF_MAXINSNS) {
    throw invalidArgument(`${field}: the filter compiles to ${count} BPF instructions, more than the kernel's limit of ${BPF_MAXINSNS}`);
  }

  const unknownSyscalls = [...new Set(p.rules.flatMap((r) => r.names))].filter(
    (name) => !arches.some((a) => Object.hasOwn(ARCHES[a].table, name)),
  );
  return { program, flags: p.flags, unknownSyscalls };
}

// ---- code generation ---------------------------------------------------------

type Leaf = { ret: number } | { rules: { action: number; conds: Cond[] }[] };
interface Segment {
  lo: number;
  hi: number;
  leaf: Leaf;
}

/** Emits the decision for one architecture; A holds nr, known to lie in [lo, hi]. */
function emitSyscalls(asm: Assembler, p: Profile, arch: SeccompArch, lo: number, hi: number): void {
  const info = ARCHES[arch];
  const number = (name: string): number | undefined =>
    Object.hasOwn(info.table, name) ? info.table[name]! + info.base : undefined;

  const byNr = new Map<number, { action: number; conds: Cond[] }[]>();
  for (const rule of p.rules) {
    if (rule.action === p.defaultAction) continue;
    for (const name of rule.names) {
      const nr = number(name);
      if (nr === undefined) continue;
      const list = byNr.get(nr) ?? [];
      list.push({ action: rule.action, conds: rule.conds });
      byNr.set(nr, list);
    }
  }

  // runc's -ENOSYS stub: numbers above every syscall the profile names (rules dropped above count).
  let enosysAbove: number | undefined;
  if (!p.defaultAllows) {
    for (const rule of p.rules) {
      for (const name of rule.names) {
        const nr = number(name);
        if (nr !== undefined && (enosysAbove === undefined || nr > enosysAbove)) enosysAbove = nr;
      }
    }
  }

  const segments: Segment[] = [];
  const push = (s: number, e: number, leaf: Leaf): void => {
    const last = segments[segments.length - 1];
    if (last && "ret" in last.leaf && "ret" in leaf && last.leaf.ret === leaf.ret && last.hi + 1 === s) last.hi = e;
    else segments.push({ lo: s, hi: e, leaf });
  };
  let cursor = lo;
  for (const nr of [...byNr.keys()].sort((a, b) => a - b)) {
    if (nr < lo || nr > hi) continue;
    if (nr > cursor) push(cursor, nr - 1, { ret: p.defaultAction });
    const rules = byNr.get(nr)!;
    const unconditional = rules.find((r) => r.conds.length === 0);
    push(nr, nr, unconditional ? { ret: unconditional.action } : { rules });
    cursor = nr + 1;
  }
  if (cursor <= hi) {
    if (enosysAbove !== undefined && enosysAbove < hi) {
      if (cursor <= enosysAbove) push(cursor, enosysAbove, { ret: p.defaultAction });
      push(Math.max(cursor, enosysAbove + 1), hi, { ret: SECCOMP_RET.ERRNO | ENOSYS });
    } else {
      push(cursor, hi, { ret: p.defaultAction });
    }
  }
  emitTree(asm, segments, 0, segments.length - 1, p.defaultAction, info.bits);
}

function emitTree(asm: Assembler, segs: Segment[], i: number, j: number, defaultAction: number, bits: 32 | 64): void {
  if (i === j) {
    emitLeaf(asm, segs[i]!.leaf, defaultAction, bits);
    return;
  }
  const mid = (i + j + 1) >> 1;
  const right = new Label();
  asm.branch(BPF.JGE_K, segs[mid]!.lo, right, undefined);
  emitTree(asm, segs, i, mid - 1, defaultAction, bits);
  asm.label(right);
  emitTree(asm, segs, mid, j, defaultAction, bits);
}

function emitLeaf(asm: Assembler, leaf: Leaf, defaultAction: number, bits: 32 | 64): void {
  if ("ret" in leaf) {
    asm.ret(leaf.ret);
    return;
  }
  for (const rule of leaf.rules) {
    const fail = new Label("rule fails");
    for (const cond of rule.conds) emitCond(asm, cond, fail, bits);
    asm.ret(rule.action);
    asm.label(fail);
  }
  asm.ret(defaultAction);
}

const lo32 = (v: bigint): number => Number(v & 0xffffffffn);
const hi32 = (v: bigint): number => Number((v >> 32n) & 0xffffffffn);

/**
 * Falls through when `args[index] <op> value` holds, else jumps to `fail`. 64-bit values are
 * compared as (high word, low word): seccomp_data.args[i] is little endian, low word first.
 */
function emitCond(asm: Assembler, c: Cond, fail: Label, bits: 32 | 64): void {
  const loOff = 16 + 8 * c.index;
  const hiOff = loOff + 4;
  const ok = new Label("cond holds");
  const wide = bits === 64;
  switch (c.op) {
    case "SCMP_CMP_EQ":
      if (wide) {
        asm.load(hiOff);
        asm.branch(BPF.JEQ_K, hi32(c.value), undefined, fail);
      }
      asm.load(loOff);
      asm.branch(BPF.JEQ_K, lo32(c.value), undefined, fail);
      break;
    case "SCMP_CMP_NE":
      if (wide) {
        asm.load(hiOff);
        asm.branch(BPF.JEQ_K, hi32(c.value), undefined, ok);
      }
      asm.load(loOff);
      asm.branch(BPF.JEQ_K, lo32(c.value), fail, ok);
      break;
    case "SCMP_CMP_GT":
    case "SCMP_CMP_GE":
      // high word greater: holds; smaller: fails; equal: the low word decides
      if (wide) {
        asm.load(hiOff);
        asm.branch(BPF.JGT_K, hi32(c.value), ok, undefined);
        asm.branch(BPF.JEQ_K, hi32(c.value), undefined, fail);
      }
      asm.load(loOff);
      asm.branch(c.op === "SCMP_CMP_GT" ? BPF.JGT_K : BPF.JGE_K, lo32(c.value), ok, fail);
      break;
    case "SCMP_CMP_LT":
    case "SCMP_CMP_LE":
      if (wide) {
        asm.load(hiOff);
        asm.branch(BPF.JGT_K, hi32(c.value), fail, undefined);
        asm.branch(BPF.JEQ_K, hi32(c.value), undefined, ok);
      }
      asm.load(loOff);
      // LT: fails when lo >= value; LE: fails when lo > value
      asm.branch(c.op === "SCMP_CMP_LT" ? BPF.JGE_K : BPF.JGT_K, lo32(c.value), fail, ok);
      break;
    case "SCMP_CMP_MASKED_EQ": {
      // (arg & value) == (valueTwo & value), word by word: libseccomp masks the datum too, so
      // bits of valueTwo outside the mask are ignored rather than making the rule impossible.
      // A high word with an empty mask needs no test.
      const datum = c.valueTwo & c.value;
      if (wide && hi32(c.value) !== 0) {
        asm.load(hiOff);
        asm.and(hi32(c.value));
        asm.branch(BPF.JEQ_K, hi32(datum), undefined, fail);
      }
      asm.load(loOff);
      asm.and(lo32(c.value));
      asm.branch(BPF.JEQ_K, lo32(datum), undefined, fail);
      break;
    }
  }
  asm.label(ok);
}

// ---- validation ---------------------------------------------------------------

interface Profile {
  defaultAction: number;
  /** The default action lets calls through: no -ENOSYS stub (runc's isAllowAction). */
  defaultAllows: boolean;
  arches: SeccompArch[];
  flags: number;
  rules: Rule[];
}

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function bad(path: string, what: string): never {
  throw invalidArgument(`${path}: ${what}`);
}

function arrayAt(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) bad(path, `expected an array, got ${jsonType(v)}`);
  return v;
}

function actionAt(o: Record<string, unknown>, key: string, errnoKey: string, path: string): { ret: number; name: string } {
  const v = o[key];
  const at = `${path}.${key}`;
  if (v === undefined) bad(at, "missing (expected a SCMP_ACT_* name)");
  if (typeof v !== "string") bad(at, `expected a string, got ${jsonType(v)}`);
  if (!ACTIONS.includes(v)) bad(at, `unknown action ${JSON.stringify(v)}`);
  // runc: the errno of ERRNO and the message of TRACE default to EPERM; other actions ignore it
  let data = EPERM;
  const e = o[errnoKey];
  if (e !== undefined) {
    if (typeof e !== "number" || !Number.isInteger(e) || e < 0 || e > 0xffff) {
      bad(`${path}.${errnoKey}`, `expected an integer between 0 and 65535, got ${typeof e === "number" ? e : jsonType(e)}`);
    }
    data = e;
  }
  switch (v) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return { ret: SECCOMP_RET.KILL_THREAD, name: v };
    case "SCMP_ACT_KILL_PROCESS":
      return { ret: SECCOMP_RET.KILL_PROCESS, name: v };
    case "SCMP_ACT_TRAP":
      return { ret: SECCOMP_RET.TRAP, name: v };
    case "SCMP_ACT_ERRNO":
      return { ret: (SECCOMP_RET.ERRNO | data) >>> 0, name: v };
    case "SCMP_ACT_TRACE":
      return { ret: (SECCOMP_RET.TRACE | data) >>> 0, name: v };
    case "SCMP_ACT_ALLOW":
      return { ret: SECCOMP_RET.ALLOW, name: v };
    case "SCMP_ACT_LOG":
      return { ret: SECCOMP_RET.LOG, name: v };
  }
  return bad(at, "SCMP_ACT_NOTIFY is not supported yet");
}

function uint64At(v: unknown, path: string): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > 0xffffffffffffffffn) bad(path, `expected an integer between 0 and 2^64-1, got ${v}`);
    return v;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 2 ** 64) {
    bad(path, `expected an integer between 0 and 2^64-1, got ${typeof v === "number" ? v : jsonType(v)}`);
  }
  // 2^64-1 in JSON parses as the double 2^64
  return v === 2 ** 64 ? 0xffffffffffffffffn : BigInt(v);
}

function parseArg(v: unknown, path: string): Cond {
  if (!isObj(v)) bad(path, `expected an object, got ${jsonType(v)}`);
  const index = v.index;
  if (index === undefined) bad(`${path}.index`, "missing (expected an integer between 0 and 5)");
  if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index > 5) {
    bad(`${path}.index`, `expected an integer between 0 and 5, got ${typeof index === "number" ? index : jsonType(index)}`);
  }
  if (v.value === undefined) bad(`${path}.value`, "missing (expected an integer between 0 and 2^64-1)");
  const value = uint64At(v.value, `${path}.value`);
  const valueTwo = v.valueTwo === undefined ? 0n : uint64At(v.valueTwo, `${path}.valueTwo`);
  const op = v.op;
  if (op === undefined) bad(`${path}.op`, "missing (expected a SCMP_CMP_* name)");
  if (typeof op !== "string") bad(`${path}.op`, `expected a string, got ${jsonType(op)}`);
  if (!OPS.includes(op)) bad(`${path}.op`, `unknown operator ${JSON.stringify(op)}`);
  return { index, op: op as Op, value, valueTwo };
}

function parseProfile(profile: unknown, field: string): Profile {
  if (!isObj(profile)) bad(field, `expected an object, got ${jsonType(profile)}`);
  const def = actionAt(profile, "defaultAction", "defaultErrnoRet", field);

  const arches: SeccompArch[] = [];
  if (profile.architectures !== undefined) {
    arrayAt(profile.architectures, `${field}.architectures`).forEach((a, i) => {
      const at = `${field}.architectures[${i}]`;
      if (typeof a !== "string") bad(at, `expected a string, got ${jsonType(a)}`);
      if (Object.hasOwn(ARCHES, a)) arches.push(a as SeccompArch);
      else if (!FOREIGN_ARCHES.has(a)) bad(at, `unknown architecture ${JSON.stringify(a)}`);
    });
  }

  let flags = 0;
  if (profile.flags !== undefined) {
    arrayAt(profile.flags, `${field}.flags`).forEach((f, i) => {
      const at = `${field}.flags[${i}]`;
      if (typeof f !== "string") bad(at, `expected a string, got ${jsonType(f)}`);
      if (!Object.hasOwn(FLAGS, f)) bad(at, `unknown flag ${JSON.stringify(f)}`);
      flags |= FLAGS[f]!;
    });
  }
  // The kernel refuses WAIT_KILLABLE_RECV without NEW_LISTENER, which only SCMP_ACT_NOTIFY
  // (not supported yet) would set: the flag has nothing to act on.
  flags &= ~SECCOMP_FILTER_FLAG.WAIT_KILLABLE_RECV;

  const rules: Rule[] = [];
  if (profile.syscalls !== undefined) {
    arrayAt(profile.syscalls, `${field}.syscalls`).forEach((s, i) => {
      const at = `${field}.syscalls[${i}]`;
      if (!isObj(s)) bad(at, `expected an object, got ${jsonType(s)}`);
      const names = s.names;
      if (!Array.isArray(names) || names.length === 0) bad(`${at}.names`, "expected a non-empty array of strings");
      names.forEach((n, j) => {
        if (typeof n !== "string") bad(`${at}.names[${j}]`, `expected a string, got ${jsonType(n)}`);
        if (n === "") bad(`${at}.names[${j}]`, "must not be empty");
      });
      const action = actionAt(s, "action", "errnoRet", at).ret;
      const conds = s.args === undefined ? [] : arrayAt(s.args, `${at}.args`).map((a, j) => parseArg(a, `${at}.args[${j}]`));
      const sameIndex = conds.some((c, j) => conds.findIndex((d) => d.index === c.index) !== j);
      if (sameIndex) for (const c of conds) rules.push({ names: names as string[], action, conds: [c] });
      else rules.push({ names: names as string[], action, conds });
    });
  }

  const defaultAllows = def.name === "SCMP_ACT_ALLOW" || def.name === "SCMP_ACT_LOG" || def.name === "SCMP_ACT_TRACE";
  return { defaultAction: def.ret, defaultAllows, arches, flags, rules };
}
