// ADD's local archives, as Docker's: a tar, plain or compressed with gzip, bzip2, xz or zstd, is
// unpacked; any other file (a .gz of something that is not a tar too) is copied as it is. gzip
// and zstd are read in-process (the layer unpacker knows them); bzip2 and xz through Debian's
// `bzip2 -dc` and `xz -dc`.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import type { Readable } from "node:stream";
import * as zlib from "node:zlib";
import { Decompress } from "fzstd";
import { failedPrecondition } from "../errors.js";
import { compressionOf, type Compression } from "../image/index.js";

export type ArchiveKind = "tar" | Compression;

const TOOLS = { bzip2: "bzip2", xz: "xz" } as const;

const isTar = (b: Buffer) => b.length >= 262 && b.toString("latin1", 257, 262) === "ustar";

function readHead(file: string, n: number): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    const b = Buffer.alloc(n);
    return b.subarray(0, fs.readSync(fd, b, 0, n, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** The first bytes `bzip2 -dc` or `xz -dc` gives (the tool is stopped once they are there). */
function toolHead(tool: string, file: string, n: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const child = spawn(tool, ["-dc", file], { stdio: ["ignore", "pipe", "ignore"] });
    const chunks: Buffer[] = [];
    let got = 0;
    const done = () => {
      child.kill("SIGKILL");
      resolve(Buffer.concat(chunks));
    };
    child.on("error", () => resolve(Buffer.alloc(0)));
    child.stdout.on("data", (d: Buffer) => {
      chunks.push(d);
      if ((got += d.length) >= n) done();
    });
    child.on("close", () => resolve(Buffer.concat(chunks)));
  });
}

/** How ADD unpacks this file, or undefined when it copies it. */
export async function archiveKind(file: string): Promise<ArchiveKind | undefined> {
  const head = readHead(file, 256 * 1024);
  const kind = compressionOf(head);
  if (!kind) return isTar(head) ? "tar" : undefined;
  let plain: Buffer = Buffer.alloc(0);
  try {
    if (kind === "gzip") plain = zlib.gunzipSync(head, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    else if (kind === "zstd") {
      const out: Buffer[] = [];
      new Decompress((c) => out.push(Buffer.from(c))).push(head);
      plain = Buffer.concat(out);
    } else plain = await toolHead(TOOLS[kind], file, 512);
  } catch {
    return undefined; // not really compressed: copied as it is
  }
  return isTar(plain) ? kind : undefined;
}

/**
 * The archive as a stream the layer unpacker reads (tar, gzip and zstd as they are); `done`
 * resolves once a decompressing tool has exited well, and rejects with its message otherwise.
 */
export function archiveStream(file: string, kind: ArchiveKind, what: string): { stream: Readable; done: () => Promise<void> } {
  if (kind !== "bzip2" && kind !== "xz") return { stream: fs.createReadStream(file), done: async () => undefined };
  const child = spawn(TOOLS[kind], ["-dc", file], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", (e) => reject(failedPrecondition(`${what}: ${TOOLS[kind]}: ${e.message} (Debian's ${kind === "xz" ? "xz-utils" : "bzip2"} package)`)));
    child.on("close", (code) => (code === 0 ? resolve() : reject(failedPrecondition(`${what}: ${TOOLS[kind]} -dc: ${stderr.trim().split("\n").at(-1) || `exit ${code}`}`))));
  });
  exited.catch(() => undefined); // awaited through done()
  return { stream: child.stdout, done: () => exited };
}
