// Classic BPF for seccomp: the few instructions the compiler emits, an assembler that resolves
// labels (turning jumps longer than the 8-bit jt/jf offsets allow into `ja` trampolines), the
// byte encoding the kernel takes (struct sock_filter), and a small interpreter for tests.

// Opcodes (linux/bpf_common.h, linux/filter.h).
export const BPF = {
  LD_W_ABS: 0x20, // A = *(u32 *)(seccomp_data + k)
  ALU_AND_K: 0x54, // A &= k
  JA: 0x05, // pc += k
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const;

/** The kernel refuses longer programs (BPF_MAXINSNS). */
export const BPF_MAXINSNS = 4096;

/** sizeof(struct seccomp_data): nr, arch, instruction_pointer, args[6]. */
export const SECCOMP_DATA_SIZE = 64;

/** A place in the program; `emit`ted labels mark the next instruction. */
export class Label {
  constructor(readonly name = "") {}
}

interface Insn {
  code: number;
  k: number;
  /** Conditional jumps: where to go when the test holds / fails (always explicit). */
  jt?: Label;
  jf?: Label;
  /** `ja`: the target. */
  to?: Label;
}

type Node = Insn | Label;

/** Builds a program from instructions and labels; `assemble` turns it into bytes. */
export class Assembler {
  private readonly nodes: Node[] = [];

  label(l: Label): void {
    this.nodes.push(l);
  }
  load(offset: number): void {
    this.nodes.push({ code: BPF.LD_W_ABS, k: offset });
  }
  and(k: number): void {
    this.nodes.push({ code: BPF.ALU_AND_K, k: k >>> 0 });
  }
  ret(k: number): void {
    this.nodes.push({ code: BPF.RET_K, k: k >>> 0 });
  }
  jump(to: Label): void {
    this.nodes.push({ code: BPF.JA, k: 0, to });
  }
  /** `if (A <op> k) goto jt else goto jf`; a missing target means the next instruction. */
  branch(code: number, k: number, jt: Label | undefined, jf: Label | undefined): void {
    if (jt === undefined || jf === undefined) {
      const next = new Label("next");
      this.nodes.push({ code, k: k >>> 0, jt: jt ?? next, jf: jf ?? next });
      this.nodes.push(next);
    } else {
      this.nodes.push({ code, k: k >>> 0, jt, jf });
    }
  }

  /** Resolves labels into offsets and encodes struct sock_filter[] (host = little endian). */
  assemble(): Buffer {
    const nodes = this.relax();
    const { insns, at } = layout(nodes);
    const out = Buffer.alloc(insns.length * 8);
    insns.forEach((insn, pc) => {
      let jt = 0;
      let jf = 0;
      let k = insn.k;
      if (insn.to) k = offset(at, insn.to, pc);
      if (insn.jt && insn.jf) {
        jt = offset(at, insn.jt, pc);
        jf = offset(at, insn.jf, pc);
        if (jt > 255 || jf > 255) throw new Error("seccomp: internal error: conditional jump out of range");
      }
      out.writeUInt16LE(insn.code, pc * 8);
      out.writeUInt8(jt, pc * 8 + 2);
      out.writeUInt8(jf, pc * 8 + 3);
      out.writeUInt32LE(k >>> 0, pc * 8 + 4);
    });
    return out;
  }

  /**
   * jt/jf are 8-bit: a conditional jump whose target is further than 255 instructions goes
   * instead to a `ja` (32-bit offset) placed right after it. Inserting trampolines moves other
   * targets, so repeat until every jump fits; lengths only grow, so this ends.
   */
  private relax(): Node[] {
    let nodes = this.nodes.slice();
    for (;;) {
      const { at } = layout(nodes);
      const out: Node[] = [];
      let pc = 0;
      let changed = false;
      for (const node of nodes) {
        out.push(node);
        if (node instanceof Label) continue;
        if (node.jt && node.jf) {
          const far = [node.jt, node.jf].filter((l, i, all) => all.indexOf(l) === i && offset(at, l, pc) > 255);
          for (const target of far) {
            const trampoline = new Label("trampoline");
            if (node.jt === target) node.jt = trampoline;
            if (node.jf === target) node.jf = trampoline;
            out.push(trampoline, { code: BPF.JA, k: 0, to: target });
            changed = true;
          }
        }
        pc++;
      }
      nodes = out;
      if (!changed) return nodes;
    }
  }
}

function layout(nodes: Node[]): { insns: Insn[]; at: Map<Label, number> } {
  const insns: Insn[] = [];
  const at = new Map<Label, number>();
  for (const node of nodes) {
    if (node instanceof Label) at.set(node, insns.length);
    else insns.push(node);
  }
  return { insns, at };
}

function offset(at: Map<Label, number>, label: Label, pc: number): number {
  const target = at.get(label);
  if (target === undefined) throw new Error(`seccomp: internal error: label ${label.name} never placed`);
  const off = target - pc - 1;
  if (off < 0) throw new Error("seccomp: internal error: backward jump");
  return off;
}

/** The input of a seccomp filter (struct seccomp_data); args are 64-bit. */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: bigint[];
}

/**
 * Runs a classic BPF program on a seccomp_data the way the kernel does and returns the 32-bit
 * result. Covers all of classic BPF that seccomp accepts (loads from seccomp_data, the scratch
 * memory, ALU, jumps, returns), so it can also run programs other tools generate.
 */
export function runBpf(program: Buffer, data: SeccompData): number {
  if (program.length === 0 || program.length % 8 !== 0) throw new Error("BPF program: length must be a positive multiple of 8");
  const n = program.length / 8;
  const input = Buffer.alloc(SECCOMP_DATA_SIZE);
  input.writeUInt32LE(data.nr >>> 0, 0);
  input.writeUInt32LE(data.arch >>> 0, 4);
  input.writeBigUInt64LE(BigInt.asUintN(64, data.instructionPointer ?? 0n), 8);
  (data.args ?? []).slice(0, 6).forEach((a, i) => input.writeBigUInt64LE(BigInt.asUintN(64, a), 16 + 8 * i));
  const mem = new Uint32Array(16);
  let A = 0;
  let X = 0;
  for (let pc = 0; pc < n; pc++) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    const cls = code & 0x07;
    const src = code & 0x08 ? X : k;
    switch (cls) {
      case 0x00: // LD
      case 0x01: {
        // LDX
        const mode = code & 0xe0;
        let v: number;
        if (mode === 0x00) v = k; // IMM
        else if (mode === 0x60) v = mem[k]!; // MEM
        else if (mode === 0x80) v = SECCOMP_DATA_SIZE; // LEN
        else if (mode === 0x20 && cls === 0x00 && (code & 0x18) === 0x00) {
          if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw new Error(`BPF program: bad load offset ${k} at ${pc}`);
          v = input.readUInt32LE(k);
        } else throw new Error(`BPF program: unsupported load 0x${code.toString(16)} at ${pc}`);
        if (cls === 0x00) A = v >>> 0;
        else X = v >>> 0;
        break;
      }
      case 0x02: // ST
        mem[k] = A;
        break;
      case 0x03: // STX
        mem[k] = X;
        break;
      case 0x04: // ALU
        A = alu(code & 0xf0, A, src >>> 0, pc);
        break;
      case 0x05: {
        // JMP
        const op = code & 0xf0;
        if (op === 0x00) {
          pc += k;
          break;
        }
        const s = src >>> 0;
        const cond = op === 0x10 ? A === s : op === 0x20 ? A > s : op === 0x30 ? A >= s : op === 0x40 ? (A & s) !== 0 : undefined;
        if (cond === undefined) throw new Error(`BPF program: unsupported jump 0x${code.toString(16)} at ${pc}`);
        pc += cond ? jt : jf;
        break;
      }
      case 0x06: // RET
        return ((code & 0x18) === 0x10 ? A : k) >>> 0;
      case 0x07: // MISC
        if ((code & 0xf8) === 0x00) X = A; // TAX
        else A = X; // TXA
        break;
    }
  }
  throw new Error("BPF program: ran off the end without returning");
}

function alu(op: number, a: number, b: number, pc: number): number {
  switch (op) {
    case 0x00:
      return (a + b) >>> 0;
    case 0x10:
      return (a - b) >>> 0;
    case 0x20:
      return Math.imul(a, b) >>> 0;
    case 0x30:
      if (b === 0) return 0;
      return Math.floor(a / b) >>> 0;
    case 0x40:
      return (a | b) >>> 0;
    case 0x50:
      return (a & b) >>> 0;
    case 0x60:
      return b >= 32 ? 0 : (a << b) >>> 0;
    case 0x70:
      return b >= 32 ? 0 : a >>> b;
    case 0x80:
      return -a >>> 0;
    case 0x90:
      return b === 0 ? 0 : (a % b) >>> 0;
    case 0xa0:
      return (a ^ b) >>> 0;
  }
  throw new Error(`BPF program: unsupported ALU op 0x${op.toString(16)} at ${pc}`);
}
