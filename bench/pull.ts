// bench/pull: berth pull and push against a loopback docker-registry, side by side with
// `podman pull` and `skopeo copy`. The image is the debootstrap Debian image that bench/unpack.ts
// keeps (its gzip OCI layout: minbase in /var/tmp/berth-bench, `--variant default` in
// /var/tmp/berth-bench-default, the size issue 7 names), or, when that is not
// there or with --synthetic, a synthetic one: busybox plus a ~100 MB layer of base64'd random
// data (~76 MB gzip), made with berth itself.
//   pull   into an empty store each time:
//            berth pull (Direct path: Node's start-up included; download, verify, unpack)
//            berth pull on the Warm path (native/build/berth: the warm service does the pull,
//              started once before the runs, as it is after any use of berth within 60 s)
//            podman pull into throwaway --root storage (download, verify, unpack)
//            skopeo copy docker:// -> oci: dir (download and verify only: the floor)
//   push   the same image to a fresh repository each time (the registry has no blob linked
//            there, so every byte goes):
//            berth push from a store  vs  skopeo copy oci: dir -> docker://
// Each tool once per iteration in a rotating order; medians and ratios are printed.
// Usage: node dist/bench/pull.js [--iterations N] [--variant minbase|default] [--synthetic] [--json]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry, type Registry } from "../test/helpers/registry.js";
import { cacheDir, killGroup, stats, VARIANTS, which, type Stats, type Variant } from "./common.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const BERTH = path.join(REPO, "bin", "berth");
/** the Warm path's front-end: the pull runs in the warm service, without Node's start-up */
const WARM = path.join(REPO, "native", "build", "berth");
const TIMEOUT_MS = 300_000;
/** ext4 (without a journal) skips inodes freed in the last 60 s (300 s while their inode table block is unwritten): see main() */
const SETTLE_MS = 90_000;

interface Options {
  iterations: number;
  synthetic: boolean;
  variant: Variant;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { iterations: 3, synthetic: false, variant: "minbase", json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--iterations" || a === "-n") {
      o.iterations = Number(argv[++i]);
      if (!Number.isInteger(o.iterations) || o.iterations < 1) fail("--iterations needs an integer >= 1");
    } else if (a === "--variant") {
      const v = argv[++i] ?? "";
      if (!(VARIANTS as readonly string[]).includes(v)) fail(`--variant: expected one of ${VARIANTS.join(", ")}, got ${JSON.stringify(v)}`);
      o.variant = v as Variant;
    } else if (a === "--synthetic") o.synthetic = true;
    else if (a === "--json") o.json = true;
    else if (a === "--help" || a === "-h") {
      process.stdout.write("usage: node dist/bench/pull.js [--iterations N (default 3)] [--variant minbase|default] [--synthetic] [--json]\n");
      process.exit(0);
    } else fail(`unknown argument ${JSON.stringify(a)}`);
  }
  return o;
}

function fail(msg: string): never {
  process.stderr.write(`bench/pull: ${msg}\n`);
  process.exit(2);
}

/** Runs a command in its own session; resolves with its wall time, or throws on failure. */
function timed(cmd: string, args: string[], env: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], detached: true, env: { ...process.env, ...env } });
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    const timer = setTimeout(() => killGroup(child.pid!), TIMEOUT_MS);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${path.basename(cmd)} ${args.join(" ")}: exit ${code}: ${err.trim().split("\n").at(-1)}`));
    });
  });
}

function must(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: TIMEOUT_MS });
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** The synthetic image as a gzip OCI layout, made with berth in a throwaway store. */
function syntheticLayout(tmp: string): string {
  const roots = ["--root", path.join(tmp, "mk"), "--runroot", path.join(tmp, "mkrun")];
  must(BERTH, [...roots, "bootstrap", "busybox"]);
  must(BERTH, [...roots, "run", "--name", "mk", "busybox", "sh", "-c", "head -c 75000000 /dev/urandom | base64 > /data"]);
  must(BERTH, [...roots, "commit", "mk", "localhost/berth-bench/synthetic:1"]);
  must(BERTH, [...roots, "rm", "mk"]);
  const archive = path.join(tmp, "synthetic.oci-archive.tar");
  must(BERTH, [...roots, "save", "--format", "oci-archive", "-o", archive, "localhost/berth-bench/synthetic:1"]);
  const layout = path.join(tmp, "synthetic-layout");
  must("skopeo", ["copy", `oci-archive:${archive}`, `oci:${layout}:1`]);
  rmSync(path.join(tmp, "mk"), { recursive: true, force: true });
  return layout;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (process.getuid?.() !== 0) fail("must run as root");
  for (const t of ["docker-registry", "skopeo"]) if (!which(t)) fail(`needs ${t} (./scripts/setup installs it)`);
  const podman = which("podman");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "berth-bench-pull-"));
  let reg: Registry | undefined;
  const notes: string[] = [];
  const later: (() => void)[] = []; // removals put off to the end (below)
  const warmSocket = path.join(tmp, "warm", "warm.sock");
  try {
    const debian = path.join(cacheDir(o.variant), "oci-layout-gzip");
    const synthetic = o.synthetic || !existsSync(path.join(debian, "index.json"));
    const make = o.variant === "minbase" ? "" : ` --variant ${o.variant}`;
    if (!o.synthetic && synthetic) notes.push(`no ${debian} (run \`node dist/bench/unpack.js${make}\` once to make it): the synthetic image is used`);
    const layout = synthetic ? syntheticLayout(tmp) : debian;
    const what = synthetic ? "synthetic: busybox + ~100 MB base64 random layer" : `Debian bookworm (debootstrap variant ${o.variant}), one layer`;
    reg = await startRegistry(path.join(tmp, "registry"));
    const ref = `${reg.host}/bench/image:1`;
    must("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}`, `docker://${ref}`]);
    const manifest = JSON.parse(must("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`])) as { layers?: { size: number }[] };
    const compressed = (manifest.layers ?? []).reduce((n, l) => n + l.size, 0);
    // the store berth pushes from
    const src = ["--root", path.join(tmp, "src"), "--runroot", path.join(tmp, "srcrun")];
    must(BERTH, [...src, "pull", "-q", ref]);

    // What the pulls made is removed at the end, not between them: on an ext4 without a journal
    // (this machine's), the inode allocator passes over every inode freed in the last 60 s
    // (recently_deleted(); 300 s while the inode table block is not written back), so the tool
    // run just after a removal of thousands of files paid for it (creating a file took
    // 0.6-1.5 ms instead of ~25 us). A settle before the first run lets earlier removals age out.
    // the warm service, started before the runs as it is once berth has been used (it stays 60 s)
    await timed(WARM, ["--root", path.join(tmp, "warm-up"), "--runroot", path.join(tmp, "warm-up-run"), "images", "-q"], { BERTH_WARM_SOCKET: warmSocket });
    later.push(() => {
      try {
        process.kill(Number(readFileSync(`${warmSocket}.pid`, "utf8")), "SIGTERM");
      } catch {
        // gone already
      }
    });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const samples: Record<string, number[]> = {};
    const add = (k: string, ms: number) => (samples[k] ??= []).push(ms);
    type Tool = { name: string; run: (i: number) => Promise<number> };
    const pullTools: Tool[] = [
      {
        name: "berth pull",
        run: async (i) => {
          const root = path.join(tmp, `berth-${i}`);
          later.push(() => rmSync(root, { recursive: true, force: true }), () => rmSync(`${root}-run`, { recursive: true, force: true }));
          return await timed(BERTH, ["--root", root, "--runroot", `${root}-run`, "pull", "-q", ref], { BERTH_NO_WARM: "1" });
        },
      },
      {
        name: "berth pull (Warm)",
        run: async (i) => {
          const root = path.join(tmp, `warm-${i}`);
          later.push(() => rmSync(root, { recursive: true, force: true }), () => rmSync(`${root}-run`, { recursive: true, force: true }));
          return await timed(WARM, ["--root", root, "--runroot", `${root}-run`, "pull", "-q", ref], { BERTH_WARM_SOCKET: warmSocket });
        },
      },
      ...(podman
        ? [
            {
              name: "podman pull",
              run: async (i: number) => {
                const root = path.join(tmp, `podman-${i}`);
                later.push(() => {
                  spawnSync(podman, ["--root", path.join(root, "storage"), "--runroot", path.join(root, "run"), "--storage-driver", "overlay", "rmi", "-a", "-f"], { stdio: "ignore" });
                  rmSync(root, { recursive: true, force: true });
                });
                return await timed(podman, ["--root", path.join(root, "storage"), "--runroot", path.join(root, "run"), "--storage-driver", "overlay", "pull", "-q", "--tls-verify=false", ref]);
              },
            },
          ]
        : []),
      {
        name: "skopeo copy (no unpack)",
        run: async (i) => {
          const dir = path.join(tmp, `skopeo-${i}`);
          later.push(() => rmSync(dir, { recursive: true, force: true }));
          return await timed("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `oci:${dir}:1`]);
        },
      },
    ];
    if (!podman) notes.push("podman not found: its pull is left out");
    // each push goes to a registry of its own, started empty: neither tool can skip or mount a blob
    const fresh = async (name: string, push: (host: string) => Promise<number>) => {
      const r = await startRegistry(path.join(tmp, name));
      try {
        return await push(r.host);
      } finally {
        await r.stop();
        rmSync(path.join(tmp, name), { recursive: true, force: true });
      }
    };
    const pushTools: Tool[] = [
      { name: "berth push", run: (i) => fresh(`push-berth-${i}`, (host) => timed(BERTH, [...src, "push", "-q", ref, `${host}/push/image:1`], { BERTH_NO_WARM: "1" })) },
      { name: "skopeo copy oci: -> docker://", run: (i) => fresh(`push-skopeo-${i}`, (host) => timed("skopeo", ["copy", "-q", "--dest-tls-verify=false", `oci:${layout}`, `docker://${host}/push/image:1`])) },
    ];
    for (let i = 0; i < o.iterations; i++) {
      for (const tools of [pullTools, pushTools]) {
        const order = tools.map((_, k) => tools[(k + i) % tools.length]!);
        for (const t of order) {
          try {
            add(t.name, await t.run(i));
          } catch (e) {
            notes.push(`iteration ${i + 1}: ${(e as Error).message}`);
          }
        }
      }
    }
    const figures: Record<string, Stats | undefined> = {};
    for (const [k, v] of Object.entries(samples)) figures[k] = stats(v, 0);
    const med = (k: string) => figures[k]?.medianMs;
    const ratio = (a: string, b: string) => (med(a) && med(b) ? Math.round((med(a)! / med(b)!) * 100) / 100 : undefined);
    const ratios = {
      "berth pull / podman pull": ratio("berth pull", "podman pull"),
      "berth pull (Warm) / podman pull": ratio("berth pull (Warm)", "podman pull"),
      "berth pull / skopeo copy": ratio("berth pull", "skopeo copy (no unpack)"),
      "berth push / skopeo copy": ratio("berth push", "skopeo copy oci: -> docker://"),
    };
    if (o.json) {
      process.stdout.write(JSON.stringify({ image: what, compressedBytes: compressed, iterations: o.iterations, figures, ratios, notes }, null, 2) + "\n");
      return;
    }
    process.stdout.write(`image: ${what}, ${(compressed / 1e6).toFixed(1)} MB compressed; ${o.iterations} iterations; ms median / p90 (min)\n`);
    for (const [k, s] of Object.entries(figures)) if (s) process.stdout.write(`  ${k.padEnd(32)} ${String(s.medianMs).padStart(7)} / ${String(s.p90Ms).padStart(7)}  (${s.minMs})\n`);
    for (const [k, r] of Object.entries(ratios)) if (r !== undefined) process.stdout.write(`  ${k.padEnd(32)} ${r}x\n`);
    for (const n of notes) process.stdout.write(`note: ${n}\n`);
  } finally {
    for (const f of later.splice(0)) f();
    await reg?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`bench/pull: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
