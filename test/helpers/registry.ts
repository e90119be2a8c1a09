// Registries for the registry client's tests and bench: Debian's docker-registry (distribution
// 2.8) started on a free 127.0.0.1 port with its storage in a temp dir, killed by pid; and
// berth run asynchronously (spawnSync would stall the in-process proxies a test runs).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export const DOCKER_REGISTRY = "/usr/bin/docker-registry";
export const SKOPEO = "/usr/bin/skopeo";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Registry {
  port: number;
  host: string;
  storage: string;
  pid(): number | undefined;
  /** SIGKILL, as a crash */
  kill(): Promise<void>;
  /** starts it again on the same port and storage */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A docker-registry on 127.0.0.1; `htpasswd` (a bcrypt file) turns on Basic auth. */
export async function startRegistry(dir: string, opts: { htpasswd?: string } = {}): Promise<Registry> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const storage = path.join(dir, "storage");
  const config = path.join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storage}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      ...(opts.htpasswd ? ["auth:", "  htpasswd:", "    realm: berth-test", `    path: ${opts.htpasswd}`] : []),
      "",
    ].join("\n"),
  );
  let child: ChildProcess | undefined;
  const reg: Registry = {
    port,
    host: `127.0.0.1:${port}`,
    storage,
    pid: () => child?.pid,
    async start() {
      child = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr!.on("data", (d) => (err += d));
      for (let i = 0; i < 100; i++) {
        if (child.exitCode !== null) throw new Error(`docker-registry exited: ${err}`);
        const up = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(true)));
          s.on("error", () => resolve(false));
        });
        if (up) return;
        await sleep(50);
      }
      throw new Error(`docker-registry did not listen on ${port} within 5 s: ${err}`);
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await gone;
    },
    async stop() {
      await reg.kill();
    },
  };
  await reg.start();
  return reg;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without blocking this process's event loop. */
export function runAsync(bin: string, args: string[], opts: { env?: Record<string, string | undefined>; input?: string; timeoutMs?: number } = {}): Promise<Run> & { child: ChildProcess } {
  const child = spawn(bin, args, { env: { ...process.env, ...(opts.env ?? {}) }, stdio: ["pipe", "pipe", "pipe"] });
  const p = new Promise<Run>((resolve) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.on("close", (code, signal) => {
      clearTimeout(t);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
    });
    child.stdin!.end(opts.input ?? "");
  });
  return Object.assign(p, { child });
}

/** A bcrypt htpasswd file (apache2-utils' htpasswd), as docker-registry's auth reads it. */
export function htpasswdFile(file: string, user: string, password: string): string {
  const r = spawnSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
  writeFileSync(file, r.stdout);
  return file;
}

export const registryToolsSkip = !existsSync(DOCKER_REGISTRY) ? "needs docker-registry (Debian package docker-registry; ./scripts/setup installs it)" : !existsSync(SKOPEO) ? "needs skopeo" : false;
