// Helpers for integration tests: busybox bundles, a throwaway --root, and berth-oci runs
// whose output is captured in files (a created container keeps the caller's stdio open).
import { spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultSpec } from "../../src/oci/index.js";
import type { Spec } from "../../src/oci/runtime-spec.js";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
export const BERTH_OCI = path.join(REPO, "bin", "berth-oci");
/** the warm path's C front-end (DESIGN.md "Start-up speed") */
export const BERTH_OCI_WARM = path.join(REPO, "native", "build", "berth-oci");
export type Path = "direct" | "warm";
export const BUSYBOX = "/bin/busybox";

export const isRoot = process.getuid?.() === 0;
export const rootSkip = isRoot ? false : "needs root (real namespaces, cgroups and mounts)";

/** A busybox-static root filesystem: the whole userland of our test containers. */
export function makeRootfs(dir: string): string {
  const bin = path.join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  copyFileSync(BUSYBOX, path.join(bin, "busybox"));
  const applets = spawnSync(BUSYBOX, ["--list"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
  for (const a of applets) if (a !== "busybox") symlinkSync("busybox", path.join(bin, a));
  for (const d of ["proc", "sys", "dev", "etc", "tmp", "root"]) mkdirSync(path.join(dir, d), { recursive: true });
  writeFileSync(path.join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
  writeFileSync(path.join(dir, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
  return dir;
}

export interface Sandbox {
  dir: string;
  /** the berth-oci this sandbox runs: bin/berth-oci (direct) or the warm front-end */
  binary: string;
  /** environment for berth-oci: the warm service's socket lives in the sandbox */
  env: NodeJS.ProcessEnv;
  root: string;
  rootfs: string;
  /** writes a bundle whose config is the default spec changed by `edit`; returns its directory */
  bundle(name: string, edit?: (s: Spec) => void): string;
  oci(args: string[], opts?: { cwd?: string; input?: string }): Result;
  cleanup(): void;
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function sandbox(mode: Path = "direct"): Sandbox {
  const dir = mkdtempSync(path.join(tmpdir(), "berth-test-"));
  // containers in a user namespace run as unprivileged host ids: they must reach the rootfs
  chmodSync(dir, 0o755);
  const warmSocket = path.join(dir, "warm", "warm.sock");
  const env = { ...process.env, BERTH_WARM_SOCKET: warmSocket, BERTH_WARM_IDLE_MS: "20000" };
  const root = path.join(dir, "state");
  const rootfs = makeRootfs(path.join(dir, "rootfs"));
  let n = 0;
  const box: Sandbox = {
    dir,
    binary: mode === "warm" ? BERTH_OCI_WARM : BERTH_OCI,
    env,
    root,
    rootfs,
    bundle(name, edit) {
      const b = path.join(dir, "bundles", name);
      mkdirSync(b, { recursive: true });
      const spec = defaultSpec();
      spec.root = { path: rootfs, readonly: true };
      spec.process!.terminal = false;
      spec.linux!.cgroupsPath = `/${path.basename(dir)}-${name}`;
      edit?.(spec);
      writeFileSync(path.join(b, "config.json"), JSON.stringify(spec, null, 2));
      return b;
    },
    oci(args, opts) {
      const k = n++;
      const out = path.join(dir, `out.${k}`);
      const err = path.join(dir, `err.${k}`);
      const o = openSync(out, "w");
      const e = openSync(err, "w");
      try {
        const r = spawnSync(box.binary, ["--root", root, ...args], {
          env,
          cwd: opts?.cwd ?? dir,
          stdio: [opts?.input !== undefined ? "pipe" : "ignore", o, e],
          input: opts?.input,
          timeout: 60_000,
        });
        return { code: r.status ?? 128 + 9, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
      } finally {
        closeSync(o);
        closeSync(e);
      }
    },
    cleanup() {
      // every container still under our root goes, then the directory
      if (existsSync(root)) {
        for (const id of readdirSync(root)) box.oci(["delete", "--force", id]);
      }
      // the warm service this sandbox started, by its pid
      if (existsSync(warmSocket + ".pid")) {
        try {
          process.kill(Number(readFileSync(warmSocket + ".pid", "utf8")), "SIGTERM");
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return box;
}

/** The cgroup directories a test container may have left, for "nothing left behind" checks. */
export function cgroupLeftovers(cgroupsPath: string): string[] {
  const hierarchies = ["memory", "pids", "cpu", "cpuacct", "cpuset", "devices", "freezer", "blkio", "unified", "systemd"];
  return hierarchies.map((h) => path.join("/sys/fs/cgroup", h, cgroupsPath)).filter((p) => existsSync(p));
}
