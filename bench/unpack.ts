// bench/unpack: unpacking an image with berth side by side with podman and umoci. The image
// is Debian bookworm made with debootstrap (one layer: minbase by default, 128 MB; `--variant
// default`, debootstrap's own default, is the larger image issue 7 names), prepared once and
// kept in /var/tmp/berth-bench (the default variant in /var/tmp/berth-bench-default): the rootfs tar, a docker-archive and an oci-archive saved by
// berth, and both archives extracted as OCI layouts for umoci. Three pairs, every tool once
// per iteration in a rotating order, each run into a fresh temp dir removed afterwards:
//   load         berth loadImages(docker-archive) into a fresh ImageStore (blobs + overlay
//                snapshot)  vs  `podman load -i docker-archive` into throwaway storage
//   unpack tar   berth applyLayer(layer) into an empty dir  vs  `umoci unpack` of the same
//   unpack gzip  layer blob from an OCI layout (uncompressed, then gzip-compressed)
// berth's side runs in a child node process (this file with --worker) so that its wall time
// includes Node's start-up as podman's includes Go's, and a hung run can be killed; the time
// of the library call alone is reported beside it.
// Usage: node dist/bench/unpack.js [--iterations N] [--only PAIRS] [--json] [--variant V] [--cache DIR] [--no-install]
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { saveImages, loadImages } from "../src/image/archive.js";
import { aptMirror } from "../src/image/bootstrap.js";
import { importTarball } from "../src/image/import.js";
import { applyLayer } from "../src/image/layer/apply.js";
import { ImageStore } from "../src/image/store.js";
import { cacheDir, killGroup, stats, VARIANTS, which, type Stats, type Variant } from "./common.js";

const SELF = fileURLToPath(import.meta.url);
const SUITE = "bookworm";
/** the name the image is saved and loaded under; umoci finds it by its tag */
const IMAGE = `localhost/berth-bench/debian:${SUITE}`;
/** bump when the derived artifacts are made differently, so old caches are remade */
const DERIVED_FORMAT = 1;
/** A file every unpacked rootfs must have: the check that a run did its work. */
const PROBE = "usr/bin/dpkg";
/** A healthy run takes seconds; debootstrap takes minutes, and apt-get install too. */
const DEFAULT_TIMEOUT_S = 300;
const PREPARE_TIMEOUT_MS = 30 * 60_000;
/** A tool that fails this many iterations leaves its scenario. */
const MAX_FAILURES = 2;

type PairKey = "load" | "unpack-tar" | "unpack-gzip";
const PAIRS: Record<PairKey, string> = {
  load: "load the docker-archive into an image store",
  "unpack-tar": "unpack the layer (tar) into a directory",
  "unpack-gzip": "unpack the layer (gzip) into a directory",
};

// ---------------------------------------------------------------- options

interface Options {
  iterations: number;
  only: PairKey[];
  json: boolean;
  variant: Variant;
  cache: string;
  install: boolean;
  timeoutMs: number;
}

function usage(): string {
  return [
    "usage: node dist/bench/unpack.js [--iterations N] [--only PAIRS] [--json] [--variant V]",
    "                                 [--cache DIR] [--timeout S] [--no-install]",
    "",
    "  --iterations N  measured iterations per tool (default 5)",
    `  --only PAIRS    comma-separated subset of ${Object.keys(PAIRS).join(",")} (default all)`,
    "  --json          print a JSON document instead of the table",
    "  --variant V     debootstrap variant of the Debian image: minbase (default) or default",
    "  --cache DIR     where the Debian rootfs tar and the archives made from it are kept",
    `                  (default ${cacheDir("minbase")}, ${cacheDir("default")} for --variant default;`,
    "                  made once, reused after)",
    `  --timeout S     per run, after which it is killed and counted as failed (default ${DEFAULT_TIMEOUT_S})`,
    "  --no-install    do not apt-get install debootstrap, podman or umoci when missing",
    "",
    "Pairs: load (berth loadImages vs podman load), unpack-tar and unpack-gzip (berth",
    "applyLayer vs umoci unpack). A peer that is missing is skipped with a note. Must run as root.",
  ].join("\n");
}

function parseOptions(argv: string[]): Options {
  const o: Options = { iterations: 5, only: Object.keys(PAIRS) as PairKey[], json: false, variant: "minbase", cache: "", install: true, timeoutMs: DEFAULT_TIMEOUT_S * 1000 };
  const count = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) fail(`${flag} needs an integer >= ${min}\n\n${usage()}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    switch (flag) {
      case "--iterations":
      case "-n":
        o.iterations = count(flag, inline ?? argv[++i], 1);
        break;
      case "--only": {
        const v = inline ?? argv[++i] ?? "";
        const picked = v.split(",").filter(Boolean);
        const bad = picked.find((p) => !(p in PAIRS));
        if (bad !== undefined || picked.length === 0) fail(`--only: expected a comma-separated subset of ${Object.keys(PAIRS).join(",")}, got ${JSON.stringify(v)}`);
        o.only = picked as PairKey[];
        break;
      }
      case "--json":
        o.json = true;
        break;
      case "--variant": {
        const v = inline ?? argv[++i] ?? "";
        if (!(VARIANTS as readonly string[]).includes(v)) fail(`--variant: expected one of ${VARIANTS.join(", ")}, got ${JSON.stringify(v)}`);
        o.variant = v as Variant;
        break;
      }
      case "--cache": {
        const v = inline ?? argv[++i];
        if (!v) fail(`--cache needs a directory\n\n${usage()}`);
        o.cache = path.resolve(v);
        break;
      }
      case "--timeout":
        o.timeoutMs = count(flag, inline ?? argv[++i], 1) * 1000;
        break;
      case "--no-install":
        o.install = false;
        break;
      case "--help":
      case "-h":
        process.stdout.write(usage() + "\n");
        process.exit(0);
      default:
        fail(`unknown argument ${JSON.stringify(a)}\n\n${usage()}`);
    }
  }
  o.cache ||= cacheDir(o.variant);
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`bench/unpack: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- running commands

interface Outcome {
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

let interrupted = false;
/** the command in flight, whose process group a second ctrl-c (or any, while preparing) kills */
let inFlight: number | undefined;


const KEEP = 64 * 1024;

/**
 * Runs one command and returns its wall time (spawn to exit) and the ends of its output. It
 * gets its own session, so a ctrl-c reaches only us; on timeout its whole process group is
 * killed (helpers it started go too).
 */
function run(argv: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<Outcome> {
  return new Promise((resolve) => {
    let timedOut = false;
    let stdout = "";
    let stderr = "";
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true, env: opts.env ?? process.env, cwd: opts.cwd });
    inFlight = child.pid;
    child.stdout.on("data", (d: Buffer) => (stdout = (stdout + d.toString()).slice(-KEEP)));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-KEEP)));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid) killGroup(child.pid);
    }, opts.timeoutMs);
    let settled = false;
    const done = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (settled) return;
      settled = true;
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      inFlight = undefined;
      clearTimeout(timer);
      resolve({ ms, code, signal, stdout, stderr: spawnError ? String(spawnError) : stderr.trim(), timedOut });
    };
    child.once("error", (e) => done(null, null, e));
    child.once("close", (code, signal) => done(code, signal));
  });
}

function describe(o: Outcome, argv: string[], timeoutMs: number): string {
  const cmd = [path.basename(argv[0]!), ...argv.slice(1)].join(" ");
  const how = o.timedOut ? `timed out after ${timeoutMs / 1000} s` : o.signal ? `killed by ${o.signal}` : `exit ${o.code}`;
  const tail = o.stderr.split("\n").filter(Boolean).slice(-3).join(" | ");
  return `\`${cmd}\` ${how}${tail ? `: ${tail}` : ""}`;
}

async function must(argv: string[], what: string, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  const timeoutMs = opts.timeoutMs ?? PREPARE_TIMEOUT_MS;
  const o = await run(argv, { timeoutMs, env: opts.env });
  if (o.code !== 0) throw new Error(`${what}: ${describe(o, argv, timeoutMs)}`);
  return o;
}


function versionOf(argv: string[]): string | undefined {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 ? r.stdout.split("\n")[0]?.trim() : undefined;
}

let aptUpdated = false;

/** A tool's path, installing its Debian package when allowed; undefined (and a note) if that fails. */
async function ensureTool(cmd: string, pkg: string, opts: Options, notes: string[]): Promise<string | undefined> {
  const have = which(cmd);
  if (have) return have;
  if (!opts.install) {
    notes.push(`${cmd} is not installed and --no-install was given (apt-get install ${pkg})`);
    return undefined;
  }
  if (!which("apt-get")) {
    notes.push(`${cmd} is not installed and there is no apt-get to install ${pkg} with`);
    return undefined;
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", pkg];
  let o = await run(install, { timeoutMs: PREPARE_TIMEOUT_MS, env });
  if (o.code !== 0 && !aptUpdated && !interrupted) {
    aptUpdated = true;
    await run(["apt-get", "update", "-q"], { timeoutMs: PREPARE_TIMEOUT_MS, env });
    o = await run(install, { timeoutMs: PREPARE_TIMEOUT_MS, env });
  }
  const now = which(cmd);
  if (now) notes.push(`installed ${pkg} with apt-get for this bench`);
  else notes.push(`${cmd} is not installed and \`apt-get install ${pkg}\` failed: ${describe(o, install, PREPARE_TIMEOUT_MS)}`);
  return now;
}

// ---------------------------------------------------------------- mounts and removal

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  let info = "";
  try {
    info = readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return [];
  }
  return info
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined)
    .map(unescape)
    .filter((m) => m === dir || m.startsWith(dir + "/"))
    .sort((a, b) => b.length - a.length);
}

/**
 * Removes a tree, unmounting what is mounted inside it first (debootstrap and podman can leave
 * mounts). A mount that will not go keeps the tree: rm -rf through a bind mount of /dev or
 * /proc would reach the host.
 */
function removeTree(dir: string, problems: string[]): void {
  if (!existsSync(dir)) return;
  for (const m of mountsUnder(dir)) {
    const r = spawnSync("umount", ["-l", m], { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) problems.push(`could not unmount ${m}: ${(r.stderr || "").trim()}`);
  }
  const left = mountsUnder(dir);
  if (left.length) {
    problems.push(`${dir} was kept: still mounted inside it: ${left.join(", ")}`);
    return;
  }
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch (e) {
    problems.push(`could not remove ${dir}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------- inputs (prepared once)

interface Inputs {
  rootfsTar: string;
  dockerArchive: string;
  ociArchive: string;
  /** the docker-archive extracted: an OCI layout with the uncompressed layer */
  layoutTar: string;
  /** the oci-archive extracted: an OCI layout with the gzip layer, as berth stores it */
  layoutGzip: string;
  layerTar: { path: string; digest: string; size: number };
  layerGzip: { path: string; digest: string; size: number };
  entries: number;
}

interface Derived {
  format: number;
  source: { size: number; mtimeMs: number };
  entries: number;
}

/** The one layer of the image tagged `tag` in an OCI layout. */
function layoutLayer(layout: string, tag: string): { path: string; digest: string; size: number } {
  const blob = (d: string) => path.join(layout, "blobs", ...d.split(":"));
  const index = JSON.parse(readFileSync(path.join(layout, "index.json"), "utf8")) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!entry) throw new Error(`${layout}: index.json has no image tagged ${tag}`);
  const manifest = JSON.parse(readFileSync(blob(entry.digest), "utf8")) as { layers: { digest: string; size: number }[] };
  if (manifest.layers.length !== 1) throw new Error(`${layout}: expected one layer, found ${manifest.layers.length}`);
  const l = manifest.layers[0]!;
  return { path: blob(l.digest), digest: l.digest, size: l.size };
}

/** `debootstrap --variant=minbase` (or its default variant), then a tar of it as bootstrapDebian (src/image/bootstrap.ts) makes. */
async function makeRootfsTar(cache: string, variant: Variant, target: string, debootstrap: string, log: (s: string) => void, problems: string[]): Promise<void> {
  const work = mkdtempSync(path.join(cache, "debootstrap-"));
  try {
    const rootfs = path.join(work, "rootfs");
    const mirror = aptMirror();
    const args = variant === "default" ? [] : [`--variant=${variant}`];
    log(`debootstrap ${[...args, SUITE].join(" ")} from ${mirror} (once; a few minutes)…`);
    await must([debootstrap, ...args, SUITE, rootfs, mirror], "debootstrap");
    for (const d of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
      let names: string[] = [];
      try {
        names = readdirSync(path.join(rootfs, d));
      } catch {
        continue;
      }
      for (const f of names) if (/\.deb$|_Packages$|Release$|\.gpg$/.test(f)) rmSync(path.join(rootfs, d, f), { force: true });
    }
    const tmp = path.join(work, "rootfs.tar");
    await must(["tar", "-C", rootfs, "--numeric-owner", "--xattrs", "--xattrs-include=*", "-cf", tmp, "."], "tar of the rootfs");
    renameSync(tmp, target);
  } finally {
    removeTree(work, problems);
  }
}

/** The docker-archive and oci-archive of the rootfs, saved by berth, and both as OCI layouts. */
async function makeDerived(cache: string, variant: Variant, inputs: Inputs, log: (s: string) => void, problems: string[]): Promise<number> {
  const work = mkdtempSync(path.join(cache, "derive-"));
  try {
    log("importing the rootfs into a throwaway berth store and saving it as docker-archive and oci-archive (once)…");
    const store = new ImageStore(path.join(work, "store"), { snapshotter: "copy" });
    await importTarball(store, createReadStream(inputs.rootfsTar), { ref: IMAGE, createdBy: `debootstrap${variant === "default" ? "" : ` --variant=${variant}`} ${SUITE}`, config: { Cmd: ["bash"] } });
    const saved: [string, "docker-archive" | "oci-archive", string][] = [
      [inputs.dockerArchive, "docker-archive", inputs.layoutTar],
      [inputs.ociArchive, "oci-archive", inputs.layoutGzip],
    ];
    for (const [file, format, layout] of saved) {
      const tmp = path.join(work, path.basename(file));
      await saveImages(store, [IMAGE], format, createWriteStream(tmp));
      const dir = path.join(work, path.basename(layout));
      mkdirSync(dir);
      await must(["tar", "-C", dir, "-xf", tmp], `extracting ${format}`);
      removeTree(layout, problems);
      renameSync(dir, layout);
      renameSync(tmp, file);
    }
    const list = spawnSync("sh", ["-c", 'tar -tf "$1" | wc -l', "sh", inputs.rootfsTar], { encoding: "utf8" });
    return Number(list.stdout.trim()) || 0;
  } finally {
    removeTree(work, problems);
  }
}

async function prepare(opts: Options, notes: string[], problems: string[], log: (s: string) => void): Promise<Inputs> {
  const c = opts.cache;
  mkdirSync(c, { recursive: true });
  const inputs: Inputs = {
    rootfsTar: path.join(c, `debian-${SUITE}.tar`),
    dockerArchive: path.join(c, `debian-${SUITE}.docker-archive.tar`),
    ociArchive: path.join(c, `debian-${SUITE}.oci-archive.tar`),
    layoutTar: path.join(c, "oci-layout-tar"),
    layoutGzip: path.join(c, "oci-layout-gzip"),
    layerTar: { path: "", digest: "", size: 0 },
    layerGzip: { path: "", digest: "", size: 0 },
    entries: 0,
  };
  if (!existsSync(inputs.rootfsTar)) {
    const debootstrap = await ensureTool("debootstrap", "debootstrap", opts, notes);
    if (!debootstrap) throw new Error(`no ${inputs.rootfsTar} and no debootstrap to make it with`);
    await makeRootfsTar(c, opts.variant, inputs.rootfsTar, debootstrap, log, problems);
  }
  const st = statSync(inputs.rootfsTar);
  const stampFile = path.join(c, "derived.json");
  let stamp: Derived | undefined;
  try {
    stamp = JSON.parse(readFileSync(stampFile, "utf8")) as Derived;
  } catch {
    stamp = undefined;
  }
  const fresh =
    stamp?.format === DERIVED_FORMAT &&
    stamp.source.size === st.size &&
    stamp.source.mtimeMs === st.mtimeMs &&
    [inputs.dockerArchive, inputs.ociArchive, path.join(inputs.layoutTar, "index.json"), path.join(inputs.layoutGzip, "index.json")].every((f) => existsSync(f));
  if (!fresh) {
    rmSync(stampFile, { force: true });
    const entries = await makeDerived(c, opts.variant, inputs, log, problems);
    stamp = { format: DERIVED_FORMAT, source: { size: st.size, mtimeMs: st.mtimeMs }, entries };
    writeFileSync(stampFile, JSON.stringify(stamp, null, 2) + "\n");
  }
  inputs.entries = stamp!.entries;
  const tag = IMAGE.slice(IMAGE.lastIndexOf(":") + 1);
  inputs.layerTar = layoutLayer(inputs.layoutTar, tag);
  inputs.layerGzip = layoutLayer(inputs.layoutGzip, tag);
  return inputs;
}

/** Reads every input once, so that no timed run pays for reading it from the disk. */
async function warmPageCache(files: string[]): Promise<void> {
  for (const f of files) for await (const _ of createReadStream(f, { highWaterMark: 1 << 20 })) void _;
}

// ---------------------------------------------------------------- the worker (berth's side)

interface WorkerResult {
  /** the library call alone */
  inCallMs: number;
}

/**
 * `--worker load ARCHIVE WORK`: loadImages into a fresh ImageStore at WORK/root;
 * `--worker apply LAYER WORK DIGEST`: applyLayer into the empty dir WORK/rootfs.
 * Prints a WorkerResult as JSON; a failed check is an error (exit 1).
 */
async function worker(args: string[]): Promise<number> {
  const [mode, input, work, digest] = args;
  if (!input || !work || (mode !== "load" && mode !== "apply")) {
    process.stderr.write("bench/unpack --worker: expected `load ARCHIVE WORK` or `apply LAYER WORK DIGEST`\n");
    return 2;
  }
  let inCallMs: number;
  if (mode === "load") {
    const root = path.join(work, "root");
    const store = new ImageStore(root);
    const t0 = process.hrtime.bigint();
    const loaded = await loadImages(store, createReadStream(input));
    inCallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const top = loaded[0]?.image.chain.at(-1);
    if (loaded.length !== 1 || !top || !store.snapshots.has(top) || !(store.snapshots.info(top)?.size ?? 0)) {
      throw new Error(`loadImages: expected one image with an unpacked snapshot, got ${JSON.stringify(loaded.map((l) => l.names))}`);
    }
  } else {
    const rootfs = path.join(work, "rootfs");
    mkdirSync(rootfs);
    const t0 = process.hrtime.bigint();
    await applyLayer(rootfs, createReadStream(input), digest ? { expectedDigest: digest } : {});
    inCallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (!existsSync(path.join(rootfs, PROBE))) throw new Error(`applyLayer: ${PROBE} is missing from the result`);
  }
  process.stdout.write(JSON.stringify({ inCallMs } satisfies WorkerResult) + "\n");
  return 0;
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  key: string;
  pair: PairKey;
  /** row name */
  label: string;
  berth: boolean;
  /** the command of one run into the fresh dir `work`, and what to show of it */
  command(work: string): { argv: string[]; env?: NodeJS.ProcessEnv; shown?: string[] };
  /** after a successful run, untimed: undefined or what is wrong */
  check(work: string, o: Outcome): string | undefined;
}

/** podman's own storage, config and temp dirs, all under `work`: nothing of the host's podman is used. */
function podmanSandbox(work: string): NodeJS.ProcessEnv {
  const d = (n: string) => path.join(work, n);
  for (const n of ["root", "run", "tmp", "net"]) mkdirSync(d(n), { recursive: true });
  writeFileSync(d("storage.conf"), `[storage]\ndriver = "overlay"\ngraphroot = "${d("root")}"\nrunroot = "${d("run")}"\n`);
  writeFileSync(
    d("containers.conf"),
    [
      "[engine]",
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${d("tmp")}/events.log"`,
      // file locks under tmp_dir, not the host's /dev/shm/libpod_lock
      'lock_type = "file"',
      `tmp_dir = "${d("tmp")}"`,
      // where `load` extracts the archive (default /var/tmp)
      `image_copy_tmp_dir = "${d("tmp")}"`,
      `static_dir = "${d("root")}/libpod"`,
      `volume_path = "${d("root")}/volumes"`,
      "[network]",
      `network_config_dir = "${d("net")}"`,
      "",
    ].join("\n"),
  );
  return { ...process.env, CONTAINERS_CONF: d("containers.conf"), CONTAINERS_STORAGE_CONF: d("storage.conf"), TMPDIR: d("tmp") };
}

/**
 * podman writes outside --root whatever it is told: containers/image's blob-info cache goes to
 * /var/lib/containers/cache (there is no setting for it), and `load` extracts the archive into
 * /var/tmp (image_copy_tmp_dir and TMPDIR notwithstanding, in 4.3). So podman runs in a private
 * mount namespace where throwaway dirs are bound over both, the archive bound into the new
 * /var/tmp. Its own mounts (it bind-mounts its overlay dir) go with the namespace.
 */
function podmanNamespace(work: string, archive: string, podmanArgv: (input: string) => string[], notes: string[]): string[] {
  const over = ["/var/lib/containers/cache", "/var/lib/containers", "/var/lib"].find((d) => existsSync(d))!;
  const hidden = path.join(work, "hidden");
  mkdirSync(path.join(hidden, path.relative(over, "/var/lib/containers/cache")), { recursive: true });
  const script = ['mount --bind "$1" "$2"', "shift 2"];
  const args = [hidden, over];
  let input = archive;
  const real = (p: string) => realpathSync(p) + "/";
  if (real(work).startsWith("/var/tmp/")) {
    if (!notes.some((n) => n.startsWith("podman's /var/tmp"))) notes.push("podman's /var/tmp is the host's: the bench's temp dir is under /var/tmp (set TMPDIR elsewhere to hide it)");
  } else {
    const vartmp = path.join(work, "vartmp");
    input = path.join("/var/tmp", path.basename(archive));
    mkdirSync(vartmp);
    writeFileSync(path.join(vartmp, path.basename(archive)), "");
    script.push('mount --bind "$1" "$2/$3"', 'mount --rbind "$2" /var/tmp', "shift 3");
    args.push(archive, vartmp, path.basename(archive));
  }
  script.push('exec "$@"');
  return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-ec", script.join("\n"), "podman-ns", ...args, ...podmanArgv(input)];
}

function scenarios(inputs: Inputs, tools: { podman?: string; umoci?: string }, notes: string[]): Scenario[] {
  const node = (...args: string[]) => [process.execPath, SELF, "--worker", ...args];
  const parsed = (o: Outcome) => {
    try {
      const r = JSON.parse(o.stdout.trim().split("\n").pop() ?? "") as WorkerResult;
      return typeof r.inCallMs === "number" ? undefined : "the worker printed no timing";
    } catch {
      return `the worker printed no timing: ${o.stdout.slice(-200)}`;
    }
  };
  const tag = IMAGE.slice(IMAGE.lastIndexOf(":") + 1);
  const list: Scenario[] = [
    {
      key: "berth-load",
      pair: "load",
      label: "berth loadImages",
      berth: true,
      command: (work) => ({ argv: node("load", inputs.dockerArchive, work) }),
      check: (_, o) => parsed(o),
    },
    {
      key: "berth-apply-tar",
      pair: "unpack-tar",
      label: "berth applyLayer",
      berth: true,
      command: (work) => ({ argv: node("apply", inputs.layerTar.path, work, inputs.layerTar.digest) }),
      check: (_, o) => parsed(o),
    },
    {
      key: "berth-apply-gzip",
      pair: "unpack-gzip",
      label: "berth applyLayer",
      berth: true,
      command: (work) => ({ argv: node("apply", inputs.layerGzip.path, work, inputs.layerGzip.digest) }),
      check: (_, o) => parsed(o),
    },
  ];
  const { podman, umoci } = tools;
  if (podman) {
    list.push({
      key: "podman-load",
      pair: "load",
      label: "podman load",
      berth: false,
      command: (work) => {
        const d = (n: string) => path.join(work, n);
        const env = podmanSandbox(work);
        const argv = (input: string) => [podman, "--root", d("root"), "--runroot", d("run"), "--tmpdir", d("tmp"), "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--network-config-dir", d("net"), "load", "-i", input];
        return { argv: podmanNamespace(work, inputs.dockerArchive, argv, notes), env, shown: ["unshare", "--mount", "…", ...argv(inputs.dockerArchive)] };
      },
      check: (work, o) => {
        if (!/Loaded image/.test(o.stdout + o.stderr)) return `podman load printed no "Loaded image": ${o.stdout.slice(-200)}`;
        const overlay = path.join(work, "root", "overlay");
        const layers = existsSync(overlay) ? readdirSync(overlay).filter((n) => existsSync(path.join(overlay, n, "diff", PROBE))) : [];
        return layers.length === 1 ? undefined : `expected one overlay layer with ${PROBE} under ${overlay}, found ${layers.length}`;
      },
    });
  }
  if (umoci) {
    for (const [key, pair, layout] of [
      ["umoci-tar", "unpack-tar", inputs.layoutTar],
      ["umoci-gzip", "unpack-gzip", inputs.layoutGzip],
    ] as const) {
      list.push({
        key,
        pair,
        label: "umoci unpack",
        berth: false,
        command: (work) => ({ argv: [umoci, "unpack", "--image", `${layout}:${tag}`, path.join(work, "bundle")] }),
        check: (work) => (existsSync(path.join(work, "bundle", "rootfs", PROBE)) ? undefined : `umoci unpack: ${PROBE} is missing from the bundle's rootfs`),
      });
    }
  }
  return list;
}

// ---------------------------------------------------------------- statistics




// ---------------------------------------------------------------- report

interface ScenarioResult {
  pair: PairKey;
  label: string;
  argv: string[];
  samplesMs: number[];
  /** berth only: the library call without Node's start-up and module loading */
  inCallMs?: number[];
  stats?: Stats;
  inCallStats?: Stats;
  failures: string[];
  gaveUp: boolean;
}

interface Report {
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; loadavg: number[] };
  iterations: number;
  /** debootstrap's variant of the Debian image */
  variant: Variant;
  image: { name: string; rootfsTarBytes: number; entries: number; layerTar: { digest: string; bytes: number }; layerGzip: { digest: string; bytes: number }; cache: string };
  tools: Record<string, string | undefined>;
  scenarios: Record<string, ScenarioResult>;
  ratios: { pair: PairKey; berth: string; peer: string; ratio: number }[];
  notes: string[];
  interrupted: boolean;
  totalSeconds: number;
}

const sec = (ms: number | undefined) => (ms === undefined ? "—" : (ms / 1000).toFixed(2));
const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

function ratioText(ratio: number): string {
  return `${ratio.toFixed(2)}x (berth ${ratio >= 1 ? "slower" : "faster"})`;
}

function human(rep: Report): string {
  const out: string[] = [];
  const img = rep.image;
  out.push(
    `berth unpack bench — ${img.name} (debootstrap variant ${rep.variant}), one layer: ` +
      `tar ${mb(img.layerTar.bytes)}, ${img.entries.toLocaleString("en")} entries; gzip ${mb(img.layerGzip.bytes)}`,
    `${rep.iterations} iterations, ${rep.machine.cpus} CPUs, ${rep.machine.kernel}, node ${rep.machine.node}; ` +
      Object.entries(rep.tools)
        .map(([k, v]) => `${k} ${v ?? "(not installed)"}`)
        .join(", "),
    "",
  );
  const head = ["", "wall med", "p90", "in-call med", "p90"];
  const rows: string[][] = [];
  for (const [pair, title] of Object.entries(PAIRS)) {
    const members = Object.values(rep.scenarios).filter((s) => s.pair === pair);
    if (members.length === 0) continue;
    rows.push([title, "", "", "", ""]);
    for (const s of members) {
      rows.push([`  ${s.label}`, sec(s.stats?.medianMs), sec(s.stats?.p90Ms), s.inCallStats ? sec(s.inCallStats.medianMs) : "", s.inCallStats ? sec(s.inCallStats.p90Ms) : ""]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[1] === "" && i === 0 ? 0 : r[i]!.length))));
  const line = (cells: string[]) => (cells[1] === "" && cells[0] !== "" ? cells[0]! : cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
  out.push(line(head) + "   (seconds)");
  out.push(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) out.push(line(r));
  out.push("", "in-call: the library call alone, without Node's start-up and module loading (berth only).");

  if (rep.ratios.length) {
    out.push("", "ratios of median wall times:");
    for (const r of rep.ratios) out.push(`  ${r.pair.padEnd(12)} ${r.berth} / ${r.peer}: ${ratioText(r.ratio)}`);
  }
  const errors = Object.values(rep.scenarios)
    .filter((s) => s.failures.length)
    .flatMap((s) => [
      `${PAIRS[s.pair]} / ${s.label}: ${s.failures.length} failed iteration(s)${s.gaveUp ? ", gave up on it" : ""}; its figures come from ${s.stats?.n ?? 0}:`,
      ...s.failures.map((f) => `    ${f}`),
    ]);
  if (errors.length || rep.notes.length) {
    out.push("", "notes:");
    for (const e of [...errors, ...rep.notes]) out.push(e.startsWith(" ") ? `  ${e}` : `  - ${e}`);
  }
  if (rep.interrupted) out.push("", "INTERRUPTED: figures cover the iterations that finished.");
  out.push("", `total ${rep.totalSeconds.toFixed(1)} s; load average ${rep.machine.loadavg.map((x) => x.toFixed(2)).join(" ")}`);
  return out.join("\n") + "\n";
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    process.stderr.write("bench/unpack: must run as root (layers hold devices and root-owned files; podman and umoci unpack as root);\n  try: sudo node dist/bench/unpack.js\n");
    return 1;
  }
  const started = process.hrtime.bigint();
  const notes: string[] = [];
  const problems: string[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), "berth-bench-unpack-"));
  let preparing = true;

  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    interrupted = true;
    if (preparing || signals > 1) {
      process.stderr.write(`\nbench/unpack: ${sig}: killing the command in flight, then cleaning up ${tmp}; please wait\n`);
      if (inFlight) killGroup(inFlight);
    } else process.stderr.write(`\nbench/unpack: ${sig}: stopping after the current run, then cleaning up…\n`);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  const progress = (s: string) => {
    if (!opts.json && process.stderr.isTTY) process.stderr.write(`\r\x1b[K${s}`);
  };
  const log = (s: string) => {
    if (!opts.json) process.stderr.write(`${process.stderr.isTTY ? "\r\x1b[K" : ""}bench/unpack: ${s}\n`);
  };

  const report: Report = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? "?", kernel: `${os.type()} ${os.release()}`, node: process.versions.node, loadavg: [] },
    iterations: opts.iterations,
    variant: opts.variant,
    image: { name: IMAGE, rootfsTarBytes: 0, entries: 0, layerTar: { digest: "", bytes: 0 }, layerGzip: { digest: "", bytes: 0 }, cache: opts.cache },
    tools: {},
    scenarios: {},
    ratios: [],
    notes,
    interrupted: false,
    totalSeconds: 0,
  };

  let aborted = false;
  try {
    const inputs = await prepare(opts, notes, problems, log);
    report.image = {
      ...report.image,
      rootfsTarBytes: statSync(inputs.rootfsTar).size,
      entries: inputs.entries,
      layerTar: { digest: inputs.layerTar.digest, bytes: inputs.layerTar.size },
      layerGzip: { digest: inputs.layerGzip.digest, bytes: inputs.layerGzip.size },
    };
    const wantLoad = opts.only.includes("load");
    const wantUnpack = opts.only.some((p) => p !== "load");
    const podman = wantLoad && !interrupted ? await ensureTool("podman", "podman", opts, notes) : undefined;
    const umoci = wantUnpack && !interrupted ? await ensureTool("umoci", "umoci", opts, notes) : undefined;
    if (wantLoad) report.tools.podman = podman && versionOf([podman, "--version"])?.replace(/^podman version /, "");
    if (wantUnpack) report.tools.umoci = umoci && versionOf([umoci, "--version"])?.replace(/^umoci version /, "");
    if (wantLoad && !podman) notes.push("podman is missing: the load pair has no peer and no ratio");
    if (wantUnpack && !umoci) notes.push("umoci is missing: the unpack pairs have no peer and no ratio");
    preparing = false;
    if (interrupted) throw new Error("interrupted while preparing");

    const list = scenarios(inputs, { podman, umoci }, notes).filter((s) => opts.only.includes(s.pair));
    for (const s of list) report.scenarios[s.key] = { pair: s.pair, label: s.label, argv: ((c) => c.shown ?? c.argv)(s.command(path.join(tmp, "example"))), samplesMs: [], ...(s.berth ? { inCallMs: [] } : {}), failures: [], gaveUp: false };
    removeTree(path.join(tmp, "example"), problems);
    progress("reading the inputs once (page cache)…");
    await warmPageCache([inputs.dockerArchive, inputs.layerTar.path, inputs.layerGzip.path]);

    let seq = 0;
    for (let i = 0; i < opts.iterations && !interrupted; i++) {
      // every tool once per iteration, in a rotating order, so machine noise hits all alike
      const order = list.map((_, k) => list[(k + i) % list.length]!);
      for (const s of order) {
        if (interrupted) break;
        const res = report.scenarios[s.key]!;
        if (res.gaveUp) continue;
        progress(`${PAIRS[s.pair]}: ${s.label} ${i + 1}/${opts.iterations}`);
        const work = path.join(tmp, `${s.key}-${seq++}`);
        mkdirSync(work);
        try {
          const { argv, env, shown } = s.command(work);
          const o = await run(argv, { timeoutMs: opts.timeoutMs, env });
          const wrong = o.code === 0 ? s.check(work, o) : describe(o, shown ?? argv, opts.timeoutMs);
          if (wrong) {
            res.failures.push(`iteration ${i + 1}: ${wrong}`);
            res.gaveUp = res.failures.length >= MAX_FAILURES;
          } else {
            res.samplesMs.push(Math.round(o.ms * 10) / 10);
            if (res.inCallMs) res.inCallMs.push(Math.round((JSON.parse(o.stdout.trim().split("\n").pop()!) as WorkerResult).inCallMs * 10) / 10);
          }
        } finally {
          progress(`${PAIRS[s.pair]}: ${s.label} ${i + 1}/${opts.iterations} (cleaning up)`);
          removeTree(work, problems);
          // the next run must not pay for writing back this one's files
          spawnSync("sync", { timeout: 120_000 });
        }
      }
    }
    for (const r of Object.values(report.scenarios)) {
      r.stats = stats(r.samplesMs, 1);
      if (r.inCallMs) r.inCallStats = stats(r.inCallMs, 1);
    }
    for (const pair of opts.only) {
      const members = Object.values(report.scenarios).filter((s) => s.pair === pair);
      const b = members.find((s) => s.label.startsWith("berth"));
      const p = members.find((s) => !s.label.startsWith("berth"));
      if (b?.stats && p?.stats) report.ratios.push({ pair, berth: b.label, peer: p.label, ratio: Math.round((b.stats.medianMs / p.stats.medianMs) * 1000) / 1000 });
    }
  } catch (e) {
    aborted = true;
    notes.push(`aborted: ${interrupted ? (e as Error).message : ((e as Error).stack ?? String(e))}`);
  } finally {
    progress("cleaning up…");
    removeTree(tmp, problems);
    progress("");
  }
  notes.push(...problems);
  report.machine.loadavg = os.loadavg();
  report.interrupted = interrupted;
  report.totalSeconds = Number(process.hrtime.bigint() - started) / 1e9;

  process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : human(report));
  const failed = Object.values(report.scenarios).some((s) => s.failures.length > 0);
  return interrupted ? 130 : failed || aborted || problems.length > 0 ? 1 : 0;
}

if (process.argv[2] === "--worker") {
  try {
    process.exitCode = await worker(process.argv.slice(3));
  } catch (e) {
    process.stderr.write(`bench/unpack --worker: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
} else {
  process.exitCode = await main();
}
