// Images that need no registry, as the seed makes them by hand: busybox from Debian's
// busybox-static (seconds), Debian itself with debootstrap (minutes, from apt's mirror).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar, { type Header } from "tar-stream";
import { failedPrecondition, invalidArgument, notFound, unavailable } from "../errors.js";
import { importTarball } from "./import.js";
import type { Image, ImageStore } from "./store.js";

const BUSYBOX = "/bin/busybox";

/**
 * busybox:latest from the host's static busybox: /bin/busybox, a symlink per applet, the
 * usual directories, root and nobody in /etc/passwd. Every timestamp is busybox's own mtime,
 * so the same busybox gives the same image digest.
 */
export async function bootstrapBusybox(store: ImageStore, ref = "busybox:latest"): Promise<Image> {
  let st: fs.Stats;
  try {
    st = fs.statSync(BUSYBOX);
  } catch {
    throw unavailable(`bootstrap busybox: ${BUSYBOX} is missing`, "apt-get install busybox-static");
  }
  const file = spawnSync("file", ["-b", BUSYBOX], { encoding: "utf8" });
  if (file.status === 0 && !/static/.test(file.stdout)) throw failedPrecondition(`bootstrap busybox: ${BUSYBOX} is not statically linked (install busybox-static)`);
  const applets = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter((a) => a && a !== "busybox").sort();
  const mtime = st.mtime;
  const pack = tar.pack();
  const entry = (h: Partial<Header> & { name: string }, body?: Buffer) => pack.entry({ uid: 0, gid: 0, mtime, ...h }, body ?? Buffer.alloc(0));
  for (const d of ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var"]) entry({ name: `${d}/`, type: "directory", mode: d === "tmp" ? 0o1777 : d === "root" ? 0o700 : 0o755 });
  entry({ name: "etc/passwd", mode: 0o644 }, Buffer.from("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"));
  entry({ name: "etc/group", mode: 0o644 }, Buffer.from("root:x:0:\nnogroup:x:65534:\n"));
  // the store reads the tar while it is written: without a reader, pack would block on busybox's bytes
  const imported = importTarball(store, pack as unknown as Readable, {
    ref,
    created: mtime.toISOString(),
    createdBy: `berth bootstrap busybox (${BUSYBOX})`,
    config: { Cmd: ["sh"], Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] },
  });
  const bin = pack.entry({ name: "bin/busybox", size: st.size, mode: 0o755, uid: 0, gid: 0, mtime });
  await pipeline(fs.createReadStream(BUSYBOX), bin);
  for (const a of applets) entry({ name: `bin/${a}`, type: "symlink", linkname: "busybox", mode: 0o777 });
  pack.finalize();
  return imported;
}

/** The Debian mirror apt uses on this host (deb822 .sources or sources.list). */
export function aptMirror(): string {
  const files = ["/etc/apt/sources.list", ...safeList("/etc/apt/sources.list.d").map((f) => path.join("/etc/apt/sources.list.d", f))];
  for (const f of files) {
    let text: string;
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+\s+main/m.exec(text);
    if (line && !/security/.test(line[1]!)) return line[1]!;
    const stanza = text.split(/\n\s*\n/).find((s) => /^Types:.*\bdeb\b/m.test(s) && /^Components:.*\bmain\b/m.test(s) && !/security/.test(s));
    const uri = stanza && /^URIs:\s*(\S+)/m.exec(stanza);
    if (uri) return uri[1]!;
  }
  throw failedPrecondition("bootstrap debian: no Debian mirror found in /etc/apt/sources.list{,.d}", "pass --mirror URL");
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir).filter((f) => f.endsWith(".list") || f.endsWith(".sources"));
  } catch {
    return [];
  }
}

/**
 * debian:<suite> with `debootstrap --variant=minbase`, then imported as one layer. With
 * `tarball` (a `debootstrap --make-tarball` of the same suite and packages) nothing is
 * downloaded: debootstrap installs from it.
 */
export async function bootstrapDebian(
  store: ImageStore,
  opts: { suite?: string; mirror?: string; ref?: string; include?: string[]; systemd?: boolean; tarball?: string; log?: (line: string) => void } = {},
): Promise<Image> {
  const suite = opts.suite ?? "bookworm";
  if (!/^[a-z][a-z0-9-]*$/.test(suite)) throw invalidArgument(`bootstrap debian: suite ${JSON.stringify(suite)}: expected a Debian suite name such as bookworm`);
  // systemd as init: systemd-sysv makes /sbin/init systemd; dbus for systemctl's bus
  const include = [...new Set([...(opts.include ?? []), ...(opts.systemd ? ["systemd", "systemd-sysv", "dbus"] : [])])];
  for (const p of include) if (!/^[a-z0-9][a-z0-9+.-]+$/.test(p)) throw invalidArgument(`bootstrap debian: --include ${JSON.stringify(p)}: expected Debian package names separated by commas`);
  if (spawnSync("debootstrap", ["--version"]).error) throw unavailable("bootstrap debian: debootstrap is not installed", "apt-get install debootstrap");
  const tarball = opts.tarball && path.resolve(opts.tarball);
  if (tarball && !fs.statSync(tarball, { throwIfNoEntry: false })?.isFile()) {
    throw notFound(`bootstrap debian: --tarball ${tarball}: no such file (expected the packages from debootstrap --make-tarball)`);
  }
  const mirror = opts.mirror ?? aptMirror();
  const work = fs.mkdtempSync(path.join(store.dataRoot, "image", "ingest", "debootstrap-"));
  try {
    const rootfs = path.join(work, "rootfs");
    const from = tarball ? [`--unpack-tarball=${tarball}`] : [];
    await run("debootstrap", [...from, "--variant=minbase", ...(include.length ? [`--include=${include.join(",")}`] : []), suite, rootfs, mirror], opts.log);
    // each container of a systemd image gets a machine-id of its own (berth run --systemd writes it)
    if (opts.systemd) fs.writeFileSync(path.join(rootfs, "etc", "machine-id"), "");
    // apt's caches are not part of an image
    for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
      for (const f of safeReaddir(path.join(rootfs, d))) if (f.endsWith(".deb") || f.endsWith("_Packages") || f.endsWith("Release") || f.endsWith(".gpg")) fs.rmSync(path.join(rootfs, d, f), { force: true });
    }
    const t = spawn("tar", ["-C", rootfs, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cf", "-", "."], { stdio: ["ignore", "pipe", "pipe"] });
    let err = "";
    t.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number>((r) => t.on("close", (c) => r(c ?? 1)));
    const image = await importTarball(store, t.stdout, {
      ref: opts.ref ?? `${opts.systemd ? "debian-systemd" : "debian"}:${suite}`,
      createdBy: `berth bootstrap debian --suite ${suite}${opts.systemd ? " --systemd" : ""} (debootstrap --variant=minbase${include.length ? ` --include=${include.join(",")}` : ""} ${tarball ? `--unpack-tarball=${tarball}` : mirror})`,
      config: {
        Cmd: opts.systemd ? ["/sbin/init"] : ["bash"],
        Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        ...(opts.systemd ? { StopSignal: "SIGRTMIN+3" } : {}),
      },
    });
    if ((await exited) !== 0) throw failedPrecondition(`bootstrap debian: tar: ${err.trim()}`);
    return image;
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function run(cmd: string, args: string[], log?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const take = (d: Buffer) => {
      const s = d.toString();
      tail = (tail + s).slice(-2000);
      for (const l of s.split("\n")) if (l.trim()) log?.(l);
    };
    p.stdout.on("data", take);
    p.stderr.on("data", take);
    p.on("error", reject);
    p.on("close", (code) => {
      if (code === 0) resolve();
      else reject(failedPrecondition(`${cmd} failed (exit ${code}): ${tail.trim().split("\n").pop()}`));
    });
  });
}
