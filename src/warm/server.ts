// The warm service (DESIGN.md "Start-up speed"): a Node process that stays up between
// berth-oci and berth calls and answers the C front-ends' requests. It holds no state of its
// own — everything lives in the state directories and the database — is never a container's
// parent (berth-oci's front-end runs launch plans with the caller's stdio; berth's containers
// start under their monitors, in their own sessions), and exits when idle.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { closeSync, existsSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import type { Launch, Launcher } from "../runtime/launcher.js";
import { encodeMessage, MessageReader, WarmMsg } from "../runtime/protocol.js";
import { recvFds } from "../sys/index.js";

export interface WarmRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export type Handler = (req: WarmRequest, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; launcher: Launcher }) => Promise<number>;

/**
 * A berth request: the caller's fds 0, 1, 2 are the handler's to close; its signals arrive as
 * `signals.emit("signal", signo)`. The answer is an exit code (-n: the caller is to die of
 * signal n) or "direct" (the front-end runs the Direct path itself).
 */
export type BerthHandler = (req: WarmRequest, stdio: number[], signals: EventEmitter) => Promise<number | "direct">;

export interface ServeOptions {
  socket: string;
  /** exit after this long without a connection */
  idleMs: number;
  handler: Handler;
  berth?: BerthHandler;
  /** true once the service's code was rebuilt: it then takes no new connections (the next front-end starts a fresh service) */
  stale?: () => boolean;
  /**
   * What the service runs, written to SOCKET.build before it listens: berth's front-end uses
   * the service only when it runs the front-end's own, current code (not another
   * installation's, not an older build that would not know its requests).
   */
  build?: { code: string; mtimeMs: number };
}

/** How long the first frame may take to arrive after connect (the front-end sends at once). */
const FIRST_FRAME_MS = 1000;

export function parseRequest(payload: Buffer): WarmRequest {
  const blocks: Buffer[] = [];
  let off = 0;
  for (let i = 0; i < 3; i++) {
    const len = payload.readUInt32LE(off);
    blocks.push(payload.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  const split = (b: Buffer) => (b.length ? b.toString("utf8").replace(/\0$/, "").split("\0") : []);
  const env: Record<string, string> = {};
  for (const kv of split(blocks[2])) {
    const i = kv.indexOf("=");
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { argv: split(blocks[0]), cwd: blocks[1].toString("utf8"), env };
}

export async function serve(opts: ServeOptions): Promise<void> {
  const dir = path.dirname(opts.socket);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(opts.socket)) {
    if (await answers(opts.socket)) return; // another service is already here
    unlinkSync(opts.socket);
  }
  const pending = new Map<string, (sock: net.Socket) => void>();
  let active = 0;
  let idle: NodeJS.Timeout | undefined;
  // paused: the first frame's header is read with recvmsg, for the fds a berth request carries
  const server = net.createServer({ pauseOnConnect: true }, (conn) => {
    active++;
    if (idle) clearTimeout(idle);
    if (!stopping && opts.stale?.()) {
      // this request is still answered here; those after it get a service of the new code
      stopping = true;
      close();
    }
    conn.on("close", () => {
      if (--active === 0) {
        if (stopping) process.exit(0);
        armIdle();
      }
    });
    conn.on("error", () => conn.destroy());
    const reader = new MessageReader();
    let exitedResolve: ((code: number) => void) | undefined;
    let passed: number[] = [];
    let signals: EventEmitter | undefined;
    const onData = (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
        if (msg.type === WarmMsg.SIGNAL) {
          signals?.emit("signal", msg.payload.readUInt32LE(0));
          continue;
        }
        if (msg.type === WarmMsg.BERTH && (!opts.berth || passed.length !== 3 || signals)) {
          // not a request this service can answer (no stdio came with it): the Direct path can
          closeAll(passed);
          passed = [];
          conn.end(encodeMessage(WarmMsg.DIRECT));
          continue;
        }
        if (msg.type === WarmMsg.BERTH && opts.berth) {
          signals = new EventEmitter();
          const stdio = passed;
          passed = [];
          opts
            .berth(parseRequest(msg.payload), stdio, signals)
            .catch((e: unknown) => {
              conn.write(encodeMessage(WarmMsg.OUTPUT, Buffer.from(`\x02berth: ${(e as Error).message}\n`)));
              return 125;
            })
            .then((answer) => {
              if (answer === "direct") return conn.end(encodeMessage(WarmMsg.DIRECT));
              const b = Buffer.alloc(4);
              b.writeInt32LE(answer);
              conn.end(encodeMessage(WarmMsg.EXIT, b));
            });
          continue;
        }
        closeAll(passed); // fds with anything but a berth request are not ours to keep
        passed = [];
        if (msg.type === WarmMsg.ATTACH) {
          // from now on this connection is a launch's sync channel
          conn.off("data", onData);
          const take = pending.get(msg.payload.toString("utf8"));
          pending.delete(msg.payload.toString("utf8"));
          if (take) take(conn);
          else conn.destroy();
          return;
        }
        if (msg.type === WarmMsg.CHILD_EXIT) {
          exitedResolve?.(msg.payload.readInt32LE(0));
        } else if (msg.type === WarmMsg.REQUEST) {
          const req = parseRequest(msg.payload);
          const out = (fd: number) =>
            new Writable({
              write(chunk: Buffer, _enc, cb) {
                conn.write(encodeMessage(WarmMsg.OUTPUT, Buffer.concat([Buffer.from([fd]), Buffer.from(chunk)])), cb);
              },
            });
          const launcher: Launcher = {
            async launch(plan, { stay }) {
              const token = randomBytes(16).toString("hex");
              const attached = new Promise<net.Socket>((resolve, reject) => {
                const t = setTimeout(() => reject(new Error("the front-end did not attach")), 10_000);
                pending.set(token, (s) => {
                  clearTimeout(t);
                  resolve(s);
                });
              });
              const exited = stay ? new Promise<number>((r) => (exitedResolve = r)) : undefined;
              const head = Buffer.alloc(4);
              head.writeUInt32LE(stay ? 1 : 0);
              conn.write(encodeMessage(WarmMsg.EXECUTE, Buffer.concat([head, Buffer.from(token)])));
              const sync = await attached;
              sync.write(plan);
              const launch: Launch = { sync, exited, status: () => "", release: () => undefined, kill: () => sync.destroy() };
              return launch;
            },
          };
          opts
            .handler(req, { stdout: out(1), stderr: out(2), launcher })
            .catch((e: unknown) => {
              conn.write(encodeMessage(WarmMsg.OUTPUT, Buffer.from(`\x02berth-oci: ${(e as Error).message}\n`)));
              return 1;
            })
            .then((code) => {
              const b = Buffer.alloc(4);
              b.writeInt32LE(code);
              conn.end(encodeMessage(WarmMsg.EXIT, b));
            });
        }
      }
    };
    conn.on("data", onData);
    conn.on("close", () => closeAll(passed));
    const fd = (conn as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (fd !== undefined && fd >= 0) {
      try {
        const first = recvFds(fd, 8, FIRST_FRAME_MS);
        passed = first.fds;
        if (first.data.length < 8) {
          closeAll(passed);
          passed = [];
          conn.destroy();
          return;
        }
        onData(first.data);
      } catch {
        conn.destroy();
        return;
      }
    }
    conn.resume();
  });
  const close = () => {
    server.close();
    for (const f of [opts.socket, opts.socket + ".pid", opts.socket + ".build"]) {
      try {
        unlinkSync(f);
      } catch {
        // gone already
      }
    }
  };
  const armIdle = () => {
    idle = setTimeout(close, opts.idleMs);
    idle.unref();
  };
  // SIGTERM: no new requests; those under way (a foreground run) are finished first
  let stopping = false;
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.once(sig, () => {
      stopping = true;
      close();
      if (active === 0) process.exit(0);
    });
  }
  if (opts.build) writeFileSync(opts.socket + ".build", `${opts.build.code}\n${Math.trunc(opts.build.mtimeMs)}\n`);
  const oldUmask = process.umask(0o077);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.socket, () => resolve());
  });
  process.umask(oldUmask);
  // so that whoever started us (a test, an admin) can stop exactly this process
  writeFileSync(opts.socket + ".pid", String(process.pid));
  armIdle();
}

function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

function closeAll(fds: number[]): void {
  for (const fd of fds) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  }
}
