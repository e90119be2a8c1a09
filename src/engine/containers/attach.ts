// attach: the container's output live, and input to its terminal or stdin, through the attach
// socket its monitor serves (the protocol is in ../monitor.ts). Detaching closes the connection
// and leaves the container running; otherwise the attachment ends with the container's exit code.
import * as fs from "node:fs";
import net from "node:net";
import { PassThrough, type Readable } from "node:stream";
import { conflict, invalidArgument } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import { AttachMsg, attachFrame, attachSocketPath } from "../monitor.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { start } from "./start.js";
import { wait } from "./wait.js";

export interface AttachOptions {
  /** Docker's --detach-keys ("ctrl-p,ctrl-q" by default; "" for none): in the input, they detach */
  detachKeys?: string;
  /** the terminal's size, set at once (a container with a tty) */
  size?: { rows: number; cols: number };
  /** start the container and attach before its program runs, so that no output is missed */
  start?: boolean;
}

export interface Attachment {
  readonly id: string;
  /** the container has a terminal: its output is all on stdout, and input is typed keys */
  readonly tty: boolean;
  /** input reaches the program (it was created with -i) */
  readonly openStdin: boolean;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** input for the program; a detach sequence in it detaches instead */
  write(data: Buffer | string): void;
  /** no more input: the program's stdin is closed (on a terminal, ^D) */
  closeStdin(): void;
  resize(rows: number, cols: number): void;
  /** leaves the container running */
  detach(): void;
  /** the container's exit code once it is over, or undefined when detached */
  readonly done: Promise<number | undefined>;
}

const CTRL: Record<string, number> = { "@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, _: 31 };

/** "ctrl-p,ctrl-q" -> [0x10, 0x11], as Docker reads --detach-keys. */
export function parseDetachKeys(spec: string): Buffer {
  if (spec === "") return Buffer.alloc(0);
  const bytes = spec.split(",").map((k) => {
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (ctrl) {
      const c = ctrl[1]!;
      if (/[a-z]/i.test(c)) return c.toLowerCase().charCodeAt(0) - 96;
      if (c in CTRL) return CTRL[c]!;
    } else if (k.length === 1) {
      return k.charCodeAt(0);
    }
    throw invalidArgument(`--detach-keys ${JSON.stringify(spec)}: expected a comma-separated list of keys such as ctrl-p,ctrl-q (a single character, or ctrl- and a-z, @, [, \\, ], ^ or _)`);
  });
  return Buffer.from(bytes);
}

/** Connects to the attach socket; through its directory, since a long run dir outgrows sun_path. */
function connectSocket(file: string): Promise<net.Socket> {
  let dir: number;
  try {
    dir = fs.openSync(file.slice(0, file.lastIndexOf("/")) || "/", fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  } catch {
    return Promise.reject(conflict(`the container's monitor has no attach socket (${file})`));
  }
  return new Promise((resolve, reject) => {
    const sock = net.createConnection({ path: `/proc/self/fd/${dir}/${file.slice(file.lastIndexOf("/") + 1)}` });
    const failed = (e: Error) => {
      fs.closeSync(dir);
      reject(conflict(`cannot attach: the container's monitor does not answer on ${file}: ${e.message}`));
    };
    sock.once("error", failed);
    sock.once("connect", () => {
      sock.off("error", failed);
      fs.closeSync(dir);
      resolve(sock);
    });
  });
}

async function connect(ctx: EngineContext, row: ContainerRow, opts: AttachOptions): Promise<Attachment> {
  const h = JSON.parse(row.config) as HostConfig;
  const keys = parseDetachKeys(opts.detachKeys ?? "ctrl-p,ctrl-q");
  const sock = await connectSocket(attachSocketPath(ctx.paths(row.id).runDir));
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let detached = false;
  let exitCode: number | undefined;
  let matched = 0; // how much of the detach sequence the input has just typed
  const send = (type: AttachMsg, payload?: Buffer) => {
    if (!sock.destroyed && sock.writable) sock.write(attachFrame(type, payload));
  };
  let pending: Buffer = Buffer.alloc(0);
  sock.on("data", (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const type = pending.readUInt32LE(0);
      const len = pending.readUInt32LE(4);
      if (pending.length < 8 + len) break;
      const body = pending.subarray(8, 8 + len);
      pending = pending.subarray(8 + len);
      if (type === AttachMsg.STDOUT) stdout.write(body);
      else if (type === AttachMsg.STDERR) stderr.write(body);
      else if (type === AttachMsg.EXIT && len >= 4) exitCode = body.readInt32LE(0);
    }
    // the monitor waits for us to close once it has said how the container ended
    if (exitCode !== undefined) sock.destroy();
  });
  sock.on("error", () => undefined); // the close that follows says it all
  const done = new Promise<number | undefined>((resolve) => {
    sock.once("close", () => {
      stdout.end();
      stderr.end();
      if (detached) return resolve(undefined);
      if (exitCode !== undefined) return resolve(exitCode);
      // the monitor went without a word (killed): the record knows what became of the container
      wait(ctx, row.id).then(resolve, () => resolve(255));
    });
  });
  const detach = () => {
    detached = true;
    sock.destroy();
  };
  const a: Attachment = {
    id: row.id,
    tty: h.tty ?? false,
    openStdin: h.openStdin ?? false,
    stdout,
    stderr,
    write(data) {
      const buf = typeof data === "string" ? Buffer.from(data) : data;
      if (keys.length === 0) return send(AttachMsg.STDIN, buf);
      const out: number[] = [];
      for (const b of buf) {
        if (b === keys[matched]) {
          if (++matched === keys.length) {
            if (out.length) send(AttachMsg.STDIN, Buffer.from(out));
            return detach();
          }
          continue;
        }
        // not the sequence after all: the keys held back go to the program
        for (let i = 0; i < matched; i++) out.push(keys[i]!);
        matched = b === keys[0] ? 1 : 0;
        if (!matched) out.push(b);
      }
      if (out.length) send(AttachMsg.STDIN, Buffer.from(out));
    },
    closeStdin: () => send(AttachMsg.CLOSE_STDIN),
    resize(rows, cols) {
      if (!(rows > 0 && cols > 0)) return;
      const p = Buffer.alloc(8);
      p.writeUInt32LE(rows, 0);
      p.writeUInt32LE(cols, 4);
      send(AttachMsg.RESIZE, p);
    },
    detach,
    done,
  };
  if (opts.size) a.resize(opts.size.rows, opts.size.cols);
  return a;
}

export async function attach(ctx: EngineContext, ref: string, opts: AttachOptions = {}): Promise<Attachment> {
  parseDetachKeys(opts.detachKeys ?? ""); // bad keys are refused before anything runs
  if (opts.start) {
    let a: Attachment | undefined;
    try {
      await start(ctx, ref, { beforeStart: async (row) => void (a = await connect(ctx, row, opts)) });
    } catch (e) {
      a?.detach();
      throw e;
    }
    if (a) return a;
    // it was running already: attach as to any running container
  }
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || (row.state !== "running" && row.state !== "paused")) throw conflict(`You cannot attach to a stopped container ${row?.name ?? ref}, start it first`);
  if (row.state === "paused") throw conflict(`You cannot attach to a paused container ${row.name}, unpause it first`);
  return connect(ctx, row, opts);
}
