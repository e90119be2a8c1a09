// cgroup v2 has no devices.allow/deny files: access to device nodes is decided by an eBPF
// program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup. This compiles the OCI
// device rules into that program (the executor loads and attaches the bytes) and runs such a
// program in a small interpreter for tests.
//
// The program sees struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; } where
// access_type = access << 16 | type, and returns 1 to allow, 0 to refuse (EPERM).
// Rule semantics follow the v1 devices cgroup that the OCI rules were written for: rules apply
// in order and a later rule overrides an earlier one, starting from "deny everything".
import { invalidArgument } from "../../errors.js";
import type { DeviceCgroupRule } from "../../oci/runtime-spec.js";

export const DEVCG_DEV = { BLOCK: 1, CHAR: 2 } as const;
export const DEVCG_ACC = { MKNOD: 1, READ: 2, WRITE: 4 } as const;
export const DEVICE_FILTER_LICENSE = "Apache-2.0";

// eBPF opcodes (linux/bpf.h, linux/bpf_common.h): class | size/op | source.
const OP = {
  LDX_MEM_W: 0x61, // dst = *(u32 *)(src + off)
  MOV64_REG: 0xbf,
  MOV64_IMM: 0xb7,
  AND64_IMM: 0x57,
  RSH64_IMM: 0x77,
  JEQ_IMM: 0x15,
  JNE_IMM: 0x55,
  JA: 0x05,
  EXIT: 0x95,
} as const;

interface Insn {
  op: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const R = { ret: 0, ctx: 1, type: 3, access: 4, major: 5, minor: 6, tmp: 7, raw: 2 } as const;

const insn = (op: number, dst: number, src: number, off: number, imm: number): Insn => ({ op, dst, src, off, imm });

/** The type and access bits of one rule; undefined fields and -1/null numbers are wildcards. */
interface Match {
  allow: boolean;
  type?: number;
  major?: number;
  minor?: number;
  access: number;
}

function parseRule(r: DeviceCgroupRule, at: string): Match {
  let type: number | undefined;
  if (r.type === undefined || r.type === "a") type = undefined;
  else if (r.type === "c") type = DEVCG_DEV.CHAR;
  else if (r.type === "b") type = DEVCG_DEV.BLOCK;
  else throw invalidArgument(`${at}.type: expected "a", "b" or "c", got ${JSON.stringify(r.type)}`);
  let access = 0;
  for (const ch of r.access ?? "rwm") {
    const bit = ch === "r" ? DEVCG_ACC.READ : ch === "w" ? DEVCG_ACC.WRITE : ch === "m" ? DEVCG_ACC.MKNOD : 0;
    if (!bit) throw invalidArgument(`${at}.access: expected letters of "rwm", got ${JSON.stringify(r.access)}`);
    access |= bit;
  }
  const num = (v: number | null | undefined, key: string): number | undefined => {
    if (v === undefined || v === null || v === -1) return undefined;
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw invalidArgument(`${at}.${key}: expected a device number or -1, got ${v}`);
    return v;
  };
  return { allow: r.allow, type, major: num(r.major, "major"), minor: num(r.minor, "minor"), access };
}

/** An instruction whose jump offset is resolved once the program is laid out. */
interface Pending extends Insn {
  to?: symbol;
}

/**
 * Compiles device cgroup rules (in the order the config gives them) into an eBPF program:
 * struct bpf_insn[] in host (little endian) byte order. As in the v1 devices cgroup, each access
 * (read, write, mknod) is decided on its own by the last rule that matches the device and names
 * that access; a request is allowed only when every access it asks for is.
 */
export function compileDeviceFilter(rules: DeviceCgroupRule[], field = "linux.resources.devices"): Buffer {
  const matches = rules.map((r, i) => parseRule(r, `${field}[${i}]`));
  const code: (Pending | symbol)[] = [
    insn(OP.LDX_MEM_W, R.raw, R.ctx, 0, 0),
    insn(OP.MOV64_REG, R.type, R.raw, 0, 0),
    insn(OP.AND64_IMM, R.type, 0, 0, 0xffff),
    insn(OP.MOV64_REG, R.access, R.raw, 0, 0),
    insn(OP.RSH64_IMM, R.access, 0, 0, 16),
    insn(OP.LDX_MEM_W, R.major, R.ctx, 4, 0),
    insn(OP.LDX_MEM_W, R.minor, R.ctx, 8, 0),
  ];
  const jump = (op: number, reg: number, imm: number, to: symbol): Pending => ({ ...insn(op, reg, 0, 0, imm), to });
  const deny = [insn(OP.MOV64_IMM, R.ret, 0, 0, 0), insn(OP.EXIT, 0, 0, 0, 0)];
  for (const bit of [DEVCG_ACC.READ, DEVCG_ACC.WRITE, DEVCG_ACC.MKNOD]) {
    const granted = Symbol("granted");
    // not asked for: nothing to decide
    code.push(insn(OP.MOV64_REG, R.tmp, R.access, 0, 0), insn(OP.AND64_IMM, R.tmp, 0, 0, bit), jump(OP.JEQ_IMM, R.tmp, 0, granted));
    let decided = false;
    for (const m of [...matches].reverse()) {
      if (!(m.access & bit)) continue;
      const next = Symbol("next rule");
      if (m.type !== undefined) code.push(jump(OP.JNE_IMM, R.type, m.type, next));
      if (m.major !== undefined) code.push(jump(OP.JNE_IMM, R.major, m.major, next));
      if (m.minor !== undefined) code.push(jump(OP.JNE_IMM, R.minor, m.minor, next));
      if (m.allow) code.push(jump(OP.JA, 0, 0, granted));
      else code.push(...deny.map((i) => ({ ...i })));
      code.push(next);
      // a rule for every device decides for good: the verifier refuses code that cannot run
      decided = m.type === undefined && m.major === undefined && m.minor === undefined;
      if (decided) break;
    }
    if (!decided) code.push(...deny.map((i) => ({ ...i })));
    code.push(granted);
  }
  code.push(insn(OP.MOV64_IMM, R.ret, 0, 0, 1), insn(OP.EXIT, 0, 0, 0, 0));

  const at = new Map<symbol, number>();
  const out: Pending[] = [];
  for (const c of code) {
    if (typeof c === "symbol") at.set(c, out.length);
    else out.push(c);
  }
  const buf = Buffer.alloc(out.length * 8);
  out.forEach((ins, i) => {
    const off = ins.to ? at.get(ins.to)! - i - 1 : ins.off;
    buf.writeUInt8(ins.op, i * 8);
    buf.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    buf.writeInt16LE(off, i * 8 + 2);
    buf.writeInt32LE(ins.imm | 0, i * 8 + 4);
  });
  return buf;
}

export interface DeviceRequest {
  type: "b" | "c";
  major: number;
  minor: number;
  /** Letters of "rwm". */
  access: string;
}

/**
 * Runs a device program on one request the way the kernel would and returns its verdict
 * (true: allowed). Knows the instructions compileDeviceFilter emits.
 */
export function runDeviceFilter(program: Buffer, req: DeviceRequest): boolean {
  let access = 0;
  for (const ch of req.access) access |= ch === "r" ? DEVCG_ACC.READ : ch === "w" ? DEVCG_ACC.WRITE : DEVCG_ACC.MKNOD;
  const ctx = [((access << 16) | (req.type === "b" ? DEVCG_DEV.BLOCK : DEVCG_DEV.CHAR)) >>> 0, req.major >>> 0, req.minor >>> 0];
  const reg = new Array<bigint>(11).fill(0n);
  const n = program.length / 8;
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  for (let pc = 0; pc < n; pc++) {
    const op = program.readUInt8(pc * 8);
    const regs = program.readUInt8(pc * 8 + 1);
    const dst = regs & 0x0f;
    const src = regs >> 4;
    const off = program.readInt16LE(pc * 8 + 2);
    const imm = BigInt(program.readInt32LE(pc * 8 + 4));
    switch (op) {
      case OP.LDX_MEM_W:
        if (src !== R.ctx || off % 4 !== 0 || off < 0 || off > 8) throw new Error(`device program: bad load at ${pc}`);
        reg[dst] = BigInt(ctx[off / 4]!);
        break;
      case OP.MOV64_REG:
        reg[dst] = reg[src]!;
        break;
      case OP.MOV64_IMM:
        reg[dst] = u64(imm);
        break;
      case OP.AND64_IMM:
        reg[dst] = reg[dst]! & u64(imm);
        break;
      case OP.RSH64_IMM:
        reg[dst] = reg[dst]! >> imm;
        break;
      case OP.JEQ_IMM:
        if (reg[dst] === u64(imm)) pc += off;
        break;
      case OP.JNE_IMM:
        if (reg[dst] !== u64(imm)) pc += off;
        break;
      case OP.JA:
        pc += off;
        break;
      case OP.EXIT:
        return reg[R.ret] !== 0n;
      default:
        throw new Error(`device program: unknown opcode 0x${op.toString(16)} at ${pc}`);
    }
  }
  throw new Error("device program: ran off the end without returning");
}
