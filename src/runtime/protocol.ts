// berth launch-plan protocol: the TypeScript mirror of native/protocol.h. Keep the two identical.
//
//   TypeScript (berth-oci)             stage0 (berth-runtime)            container init
//   ----------------------             ----------------------            --------------
//   PLAN ------------------------------> read plan
//                                        MKFIFO / OPEN_STATEDIR / SETNS
//                                        CLONE ----------------------------> (child)
//   <------------------------------- MSG_CHILD_PID(pid)
//                                        (STAY=0: exit 0)                  SYNC(SETUP)
//   <----------------------------------------------------------------- MSG_SYNC_REQ(SETUP)
//   cgroups, id maps
//   MSG_SYNC_ACK(SETUP) ------------------------------------------------->
//                                        (STAY=1: wait for the child,      mounts, pivot_root,
//                                         exit with its status)            hostname, rlimits,
//                                                                          caps, user, chdir,
//                                                                          exec lookup
//   <----------------------------------------------------------------- MSG_READY
//   write state.json, exit                                                 WAIT_START: blocks in
//                                                                          open(exec.fifo, O_WRONLY)
//   `start`: open exec.fifo for reading, read one byte, unlink it ------>  SECCOMP, EXEC
//
// Any failing op in the child sends MSG_ERROR(errno, label) and the child exits;
// the label is text written here ("mount proc on /proc"), the errno the kernel's.
//
// Wire format (little-endian): plan := "BRTHPLAN" u32:version u32:length op*;
// op := u32:code u32:nargs arg*; arg := u32:length bytes (integers: 8-byte i64);
// message := u32:type u32:length payload.

export const PLAN_MAGIC = "BRTHPLAN";
export const PLAN_VERSION = 1;

export enum OpCode {
  MKFIFO = 1,
  OPEN_STATEDIR = 2,
  SETNS = 3,
  CLONE = 4,
  SYNC = 5,
  SET_ROOT = 6,
  MOUNT = 7,
  MKDIR = 8,
  MKNOD = 9,
  SYMLINK = 10,
  PIVOT_ROOT = 11,
  CHROOT = 12,
  CHDIR = 13,
  WRITE_FILE = 14,
  SETHOSTNAME = 15,
  SETDOMAINNAME = 16,
  SETRLIMIT = 17,
  MASK_PATH = 18,
  READONLY_PATH = 19,
  UMASK = 20,
  NO_NEW_PRIVS = 21,
  CAPS_BOUNDING = 22,
  KEEPCAPS = 23,
  SETUSER = 24,
  CAPSET = 25,
  AMBIENT = 26,
  LOOPBACK_UP = 27,
  SETSID = 28,
  LOOKUP_EXEC = 29,
  READY = 30,
  WAIT_START = 31,
  SECCOMP = 32,
  EXEC = 33,
  OOM_SCORE_ADJ = 34,
  REMOUNT_RO = 35,
  UNSHARE = 36,
  RUN_HOOK = 37,
  CONSOLE_SOCKET = 38,
  CONSOLE_PAIR = 39,
  SETUP_TTY = 40,
  PERSONALITY = 41,
  BPF_DEVICES = 42,
}

export enum SyncMsg {
  CHILD_PID = 1,
  SYNC_REQ = 2,
  SYNC_ACK = 3,
  READY = 4,
  ERROR = 5,
}

/** The warm path's control messages (native/protocol.h, "The warm path"). */
export enum WarmMsg {
  REQUEST = 100,
  OUTPUT = 101,
  EXIT = 102,
  EXECUTE = 103,
  ATTACH = 104,
  CHILD_EXIT = 105,
  BERTH = 106,
  SIGNAL = 107,
  DIRECT = 108,
}

export enum SyncPoint {
  SETUP = 1,
  HOOKS = 2,
}

/** One argument of an op: text, a 64-bit integer, or raw bytes. */
export type OpArg = string | number | bigint | Buffer;

/** One primitive operation; `args[0]` is always the label used in error messages. */
export interface PlanOp {
  code: OpCode;
  args: [string, ...OpArg[]];
}

export function encodeArg(arg: OpArg): Buffer {
  if (typeof arg === "string") return Buffer.from(arg, "utf8");
  if (Buffer.isBuffer(arg)) return arg;
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt.asIntN(64, BigInt(arg)));
  return b;
}

export function encodePlan(ops: readonly PlanOp[]): Buffer {
  const parts: Buffer[] = [];
  for (const op of ops) {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(op.code, 0);
    head.writeUInt32LE(op.args.length, 4);
    parts.push(head);
    for (const a of op.args) {
      const data = encodeArg(a);
      const len = Buffer.alloc(4);
      len.writeUInt32LE(data.length);
      parts.push(len, data);
    }
  }
  const body = Buffer.concat(parts);
  const header = Buffer.alloc(16);
  header.write(PLAN_MAGIC, 0, "latin1");
  header.writeUInt32LE(PLAN_VERSION, 8);
  header.writeUInt32LE(body.length, 12);
  return Buffer.concat([header, body]);
}

export function encodeMessage(type: SyncMsg | WarmMsg, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(type, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

export interface Message {
  type: SyncMsg | WarmMsg;
  payload: Buffer;
}

/** Splits a byte stream into messages. */
export class MessageReader {
  private buf = Buffer.alloc(0);

  push(chunk: Buffer): Message[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: Message[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32LE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ type: this.buf.readUInt32LE(0) as SyncMsg | WarmMsg, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
}
