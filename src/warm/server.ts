// The warm service (DESIGN.md "Start-up speed"): a Node process that stays up between
// berth-oci calls and answers the C front-end's requests. It holds no state of its own —
// everything lives in the state directories — is never a container's parent (the
// front-end runs launch plans with the caller's stdio), and exits when idle.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import type { Launch, Launcher } from "../runtime/launcher.js";
import { encodeMessage, MessageReader, WarmMsg } from "../runtime/protocol.js";

export interface WarmRequest {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
}

export type Handler = (req: WarmRequest, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; launcher: Launcher }) => Promise<number>;

export interface ServeOptions {
  socket: string;
  /** exit after this long without a connection */
  idleMs: number;
  handler: Handler;
}

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
  const server = net.createServer((conn) => {
    active++;
    if (idle) clearTimeout(idle);
    conn.on("close", () => {
      if (--active === 0) armIdle();
    });
    conn.on("error", () => conn.destroy());
    const reader = new MessageReader();
    let exitedResolve: ((code: number) => void) | undefined;
    const onData = (chunk: Buffer) => {
      for (const msg of reader.push(chunk)) {
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
  });
  const armIdle = () => {
    idle = setTimeout(() => {
      server.close();
      for (const f of [opts.socket, opts.socket + ".pid"]) {
        try {
          unlinkSync(f);
        } catch {
          // gone already
        }
      }
    }, opts.idleMs);
    idle.unref();
  };
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
