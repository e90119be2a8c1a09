// logs: the container's json-file log (written by its monitor), with --tail, --since, --until,
// and --follow until the container has exited and every line is read.
import * as fs from "node:fs";
import { sleep } from "../../sys/index.js";
import type { EngineContext } from "../context.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";

export interface LogEntry {
  stream: "stdout" | "stderr";
  /** the bytes as the program wrote them (a line with its newline, or a partial line) */
  log: string;
  time: string;
}

export interface LogOptions {
  follow?: boolean;
  /** the last N entries */
  tail?: number;
  /** RFC 3339 times or Unix seconds */
  since?: string;
  until?: string;
  signal?: AbortSignal;
}

function parseTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const rel = /^(\d+)(s|m|h)$/.exec(v);
  if (rel) return Date.now() - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[rel[2] as "s" | "m" | "h"];
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

function parseLine(line: string): LogEntry | undefined {
  try {
    const e = JSON.parse(line) as LogEntry;
    return typeof e.log === "string" ? e : undefined;
  } catch {
    return undefined; // a line being written
  }
}

/** Rotated files oldest first (log.N … log.1), then the live one. */
function files(log: string): string[] {
  const rotated: string[] = [];
  for (let i = 1; fs.existsSync(`${log}.${i}`); i++) rotated.unshift(`${log}.${i}`);
  return [...rotated, log];
}

function readToEnd(fd: number): Buffer {
  const chunks: Buffer[] = [];
  for (let off = 0; ; ) {
    const b = Buffer.alloc(1 << 16);
    const n = fs.readSync(fd, b, 0, b.length, off);
    if (n === 0) return Buffer.concat(chunks);
    chunks.push(b.subarray(0, n));
    off += n;
  }
}

export async function* logs(ctx: EngineContext, ref: string, opts: LogOptions = {}): AsyncGenerator<LogEntry> {
  const row = lookup(ctx, ref);
  const { log } = ctx.paths(row.id);
  const since = parseTime(opts.since);
  const until = parseTime(opts.until);
  const keep = (e: LogEntry) => {
    const t = Date.parse(e.time);
    return (since === undefined || t >= since) && (until === undefined || t <= until);
  };
  // the live file is followed through the fd its first part is read from (so no line falls
  // between the two) from the end of its last whole line; a rotation starts it over
  let fd: number | undefined;
  let ino = 0;
  let pos = 0;
  let rest = "";
  const open = () => {
    try {
      const f = fs.openSync(log, "r");
      const st = fs.fstatSync(f);
      if (fd !== undefined) fs.closeSync(fd);
      fd = f;
      ino = st.ino;
      pos = 0;
      rest = "";
    } catch {
      // not there yet
    }
  };
  if (opts.follow) open();
  // what is there now
  const now: LogEntry[] = [];
  for (const f of files(log)) {
    let text = "";
    try {
      if (f === log && opts.follow) {
        if (fd === undefined) continue;
        const whole = readToEnd(fd);
        pos = whole.lastIndexOf(0x0a) + 1;
        text = whole.toString("utf8", 0, pos);
      } else {
        text = fs.readFileSync(f, "utf8");
      }
    } catch {
      continue;
    }
    for (const l of text.split("\n")) {
      const e = l && parseLine(l);
      if (e && keep(e)) now.push(e);
    }
  }
  const buf = Buffer.alloc(1 << 16);
  try {
    yield* opts.tail !== undefined && opts.tail >= 0 ? now.slice(Math.max(0, now.length - opts.tail)) : now;
    if (!opts.follow) return;
    // polled: quickly after output or a start (a short program is over in a few ms), then every 25 ms
    for (let over = false, delay = 1; !opts.signal?.aborted; ) {
      let n = 0;
      if (fd !== undefined) {
        n = fs.readSync(fd, buf, 0, buf.length, pos);
        pos += n;
        if (n > 0) {
          const lines = (rest + buf.toString("utf8", 0, n)).split("\n");
          rest = lines.pop()!;
          for (const l of lines) {
            const e = parseLine(l);
            if (e && keep(e)) yield e;
          }
          delay = 1;
          continue;
        }
      }
      const st = fs.statSync(log, { throwIfNoEntry: false });
      if (st && st.ino !== ino) {
        open();
        continue;
      }
      // the monitor writes the exit record after the last output: once over, one more read ends it
      if (over) break;
      const current = ctx.db.container(row.id);
      over = !(current && (refresh(ctx, current)?.state === "running" || current.state === "paused"));
      if (over) continue;
      await sleep(delay);
      delay = Math.min(delay * 2, 25);
    }
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
