// The tar format as layers use it: ustar headers, PAX extended records and GNU long names.
// Our own codec rather than tar-stream's because PAX values must stay bytes: xattrs such as
// security.capability are binary (SCHILY.xattr.*), and tar-stream decodes them as UTF-8.
import { invalidArgument } from "../../errors.js";

export type EntryType = "file" | "link" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** seconds since the epoch (PAX may give a fraction) */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* records: name → raw value */
  xattrs: Map<string, Buffer>;
}

export interface TarEntry extends TarHeader {
  /** the content of a regular file; read it or not, the reader skips what is left */
  body: AsyncIterable<Buffer>;
}

const BLOCK = 512;
const TYPES: Record<string, EntryType> = { "0": "file", "\0": "file", "7": "file", "1": "link", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };
const FLAGS: Record<EntryType, string> = { file: "0", link: "1", symlink: "2", char: "3", block: "4", dir: "5", fifo: "6" };
const XATTR = "SCHILY.xattr.";

const truncated = () => invalidArgument("layer: unexpected end of data");
const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** Reads exactly the bytes asked for from a chunked stream. */
class ByteReader {
  private chunks: Buffer[] = [];
  private length = 0;
  offset = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** Buffers at least n bytes; false if the stream ends first. */
  private async fill(n: number): Promise<boolean> {
    while (this.length < n) {
      const r = await this.it.next();
      if (r.done) return false;
      this.chunks.push(r.value);
      this.length += r.value.length;
    }
    return true;
  }

  /** Exactly n bytes, or undefined at a clean end of stream (nothing buffered). */
  async read(n: number): Promise<Buffer | undefined> {
    if (!(await this.fill(n))) {
      if (this.length === 0) return undefined;
      throw truncated();
    }
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    this.offset += n;
    return all.subarray(0, n);
  }

  /** Up to n bytes as they arrive, without gathering them. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.length === 0 && !(await this.fill(1))) throw truncated();
      const c = this.chunks[0];
      const take = Math.min(n, c.length);
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
      this.length -= take;
      this.offset += take;
      n -= take;
      yield c.subarray(0, take);
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.stream(n));
  }

  /** Consumes the rest of the stream (so that its digest covers every byte). */
  async drain(): Promise<void> {
    this.chunks = [];
    this.length = 0;
    for (;;) if ((await this.it.next()).done) return;
  }
}

function str(b: Buffer, off: number, len: number): string {
  const f = b.subarray(off, off + len);
  const nul = f.indexOf(0);
  return (nul < 0 ? f : f.subarray(0, nul)).toString("utf8");
}

/** An octal field, or GNU base-256 when the high bit of its first byte is set. */
function num(b: Buffer, off: number, len: number, what: string): number {
  const f = b.subarray(off, off + len);
  if (f[0] & 0x80) {
    if (f[0] === 0xff) throw invalidArgument(`layer: tar header: negative ${what}`);
    let v = f[0] & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i];
    return v;
  }
  const s = f.toString("latin1").replace(/[\0 ]+$/, "").replace(/^[ ]+/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw invalidArgument(`layer: tar header: invalid ${what} ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const field = h.toString("latin1", 148, 156).replace(/[\0 ]+$/, "").replace(/^ +/, "");
  if (!/^[0-7]+$/.test(field)) return false;
  const want = parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 32 : h[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return want === unsigned || want === signed;
}

/** PAX records "<len> <key>=<value>\n"; values stay bytes. */
function parsePax(b: Buffer, into: Map<string, Buffer>): void {
  let off = 0;
  while (off < b.length) {
    const sp = b.indexOf(0x20, off);
    const len = sp < 0 ? NaN : Number(b.toString("latin1", off, sp));
    if (!Number.isInteger(len) || len <= 0 || off + len > b.length || b[off + len - 1] !== 0x0a) {
      if (b.subarray(off).every((c) => c === 0)) return; // NUL padding some writers leave
      throw invalidArgument("layer: tar header: malformed PAX record");
    }
    const rec = b.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw invalidArgument("layer: tar header: malformed PAX record");
    into.set(rec.toString("utf8", 0, eq), rec.subarray(eq + 1));
    off += len;
  }
}

/**
 * The entries of a tar stream, in order. Entry types layers do not use are refused; at the end of
 * the archive the rest of the stream is read (and discarded) so that a digest over it is complete.
 */
export async function* readTar(input: AsyncIterable<Buffer>): AsyncGenerator<TarEntry> {
  const it = input[Symbol.asyncIterator]();
  try {
    yield* entries(new ByteReader(it));
  } finally {
    await it.return?.(); // stopped early (a refused entry): stop the source too
  }
}

async function* entries(r: ByteReader): AsyncGenerator<TarEntry> {
  let global = new Map<string, Buffer>();
  let pax: Map<string, Buffer> | undefined;
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const at = r.offset;
    const h = await r.read(BLOCK);
    if (!h || (h[0] === 0 && h.equals(ZERO_BLOCK))) break; // end of archive (a missing trailer is tolerated, as Go's reader does)
    if (!checksumOk(h)) throw invalidArgument(`layer: invalid tar header at offset ${at}`);
    const flag = String.fromCharCode(h[156]);
    let size = num(h, 124, 12, "size");
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      if (size > 1 << 20) throw invalidArgument(`layer: tar header at offset ${at}: extended header of ${size} bytes is too large`);
      const data = (await r.read(size)) ?? Buffer.alloc(0);
      if (data.length < size) throw truncated();
      await r.skip(pad(size));
      if (flag === "x") parsePax(data, (pax = new Map(global)));
      else if (flag === "g") parsePax(data, (global = new Map(global)));
      else if (flag === "L") longName = str(data, 0, data.length);
      else longLink = str(data, 0, data.length);
      continue;
    }
    const ustar = h.toString("latin1", 257, 263) === "ustar\0"; // GNU's "ustar  " has no prefix field
    let name = str(h, 0, 100);
    if (ustar && h[345] !== 0) name = str(h, 345, 155) + "/" + name;
    name = longName ?? name;
    let linkname = longLink ?? str(h, 157, 100);
    const rec = pax ?? global;
    const text = (k: string) => rec.get(k)?.toString("utf8");
    name = text("path") ?? name;
    linkname = text("linkpath") ?? linkname;
    const paxNum = (k: string, v: number) => {
      const s = text(k);
      if (s === undefined) return v;
      const n = Number(s);
      if (!Number.isFinite(n) || (n < 0 && k !== "mtime")) throw invalidArgument(`layer: entry ${JSON.stringify(name)}: invalid PAX ${k} ${JSON.stringify(s)}`);
      return n;
    };
    size = paxNum("size", size);
    const type = TYPES[flag];
    if (!type) throw invalidArgument(`layer: entry ${JSON.stringify(name)}: unsupported tar entry type ${JSON.stringify(flag)}`);
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of rec) if (k.startsWith(XATTR)) xattrs.set(k.slice(XATTR.length), v);
    const header: TarHeader = {
      name,
      type,
      mode: num(h, 100, 8, "mode") & 0o7777,
      uid: paxNum("uid", num(h, 108, 8, "uid")),
      gid: paxNum("gid", num(h, 116, 8, "gid")),
      size: type === "file" ? size : 0,
      mtime: paxNum("mtime", num(h, 136, 12, "mtime")),
      linkname,
      devmajor: ustar || h[257] ? num(h, 329, 8, "devmajor") : 0,
      devminor: ustar || h[257] ? num(h, 337, 8, "devminor") : 0,
      xattrs,
    };
    pax = longName = longLink = undefined;
    const body = r.stream(header.size);
    yield { ...header, body };
    await r.skip(header.size - (r.offset - at - BLOCK)); // what the consumer left unread
    // other types carry no data whatever their size field says (as Go's reader treats them)
    if (type === "file") await r.skip(pad(size));
  }
  await r.drain();
}

const pad = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** The zero bytes that follow `size` bytes of content. */
export function tarPadding(size: number): Buffer {
  return Buffer.alloc(pad(size));
}

/** Two zero blocks: the end of an archive. */
export const TAR_END = Buffer.alloc(2 * BLOCK);

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.byteLength(key) + value.length + 3; // " " "=" "\n"
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  return Buffer.concat([Buffer.from(`${len} ${key}=`), value, Buffer.from("\n")]);
}

function octal(b: Buffer, off: number, len: number, v: number): boolean {
  const s = Math.floor(v).toString(8);
  if (v < 0 || s.length > len - 1) return false;
  b.write(s.padStart(len - 1, "0") + "\0", off, len, "latin1");
  return true;
}

function ustarBlock(h: TarHeader, name: string, prefix: string, linkname: string, flag: string, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, "utf8");
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, size);
  octal(b, 136, 12, h.mtime);
  b[156] = flag.charCodeAt(0);
  b.write(linkname, 157, 100, "utf8");
  b.write("ustar\x0000", 257, 8, "latin1");
  octal(b, 329, 8, h.devmajor);
  octal(b, 337, 8, h.devminor);
  b.write(prefix, 345, 155, "utf8");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
  return b;
}

/**
 * The header block(s) of one entry: a PAX header first when a field does not fit ustar
 * (long or non-ASCII names, large IDs or sizes) or there are xattrs. Deterministic: no
 * user or group names, no access times.
 */
export function tarHeader(h: TarHeader): Buffer {
  const fullName = h.type === "dir" && !h.name.endsWith("/") ? h.name + "/" : h.name;
  const records: Buffer[] = [];
  const ascii = (s: string) => /^[\x01-\x7f]*$/.test(s);
  let name = fullName;
  let prefix = "";
  if (!ascii(fullName) || fullName.length > 100) {
    const cut = fullName.lastIndexOf("/", fullName.length - 2);
    if (ascii(fullName) && cut > 0 && cut <= 155 && fullName.length - cut - 1 <= 100) {
      prefix = fullName.slice(0, cut);
      name = fullName.slice(cut + 1);
    } else {
      records.push(paxRecord("path", Buffer.from(fullName)));
      name = fullName.replace(/[^\x01-\x7f]/g, "_").slice(0, 100);
    }
  }
  let linkname = h.linkname;
  if (!ascii(linkname) || linkname.length > 100) {
    records.push(paxRecord("linkpath", Buffer.from(linkname)));
    linkname = "";
  }
  const fits = (v: number, digits: number) => v >= 0 && v < 8 ** digits;
  for (const [k, v, d] of [["uid", h.uid, 7], ["gid", h.gid, 7], ["size", h.size, 11], ["mtime", h.mtime, 11]] as const) {
    if (!fits(v, d)) records.push(paxRecord(k, Buffer.from(String(v))));
  }
  for (const [k, v] of [...h.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) records.push(paxRecord(XATTR + k, v));
  const main = ustarBlock(
    { ...h, uid: fits(h.uid, 7) ? h.uid : 0, gid: fits(h.gid, 7) ? h.gid : 0, mtime: fits(h.mtime, 11) ? h.mtime : 0 },
    name,
    prefix,
    linkname,
    FLAGS[h.type],
    fits(h.size, 11) ? h.size : 0,
  );
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxHead = ustarBlock({ ...h, mode: 0o644, uid: 0, gid: 0, mtime: 0, devmajor: 0, devminor: 0 }, "PaxHeader", "", "", "x", data.length);
  return Buffer.concat([paxHead, data, tarPadding(data.length), main]);
}
