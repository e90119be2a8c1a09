// Starts `bin/berth registry serve` on a free loopback port for a test and stops it by pid.
// Its output goes to files, not pipes: a test that waits in spawnSync (skopeo, podman) must
// not leave the server blocked on a full pipe of access-log lines.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { REPO } from "./oci.js";

export const BERTH = path.join(REPO, "bin", "berth");

export interface Served {
  url: string;
  /** host:port, as image references name it */
  host: string;
  port: number;
  child: ChildProcess;
  /** everything the server printed so far */
  stdout(): string;
  stderr(): string;
  /** SIGTERM (once), then waits (bounded) for the exit; returns the exit code */
  stop(): Promise<number | null>;
}

export async function serve(args: string[]): Promise<Served> {
  const logs = mkdtempSync(path.join(tmpdir(), "berth-registry-log-"));
  const outFile = path.join(logs, "stdout");
  const errFile = path.join(logs, "stderr");
  const outFd = openSync(outFile, "w");
  const errFd = openSync(errFile, "w");
  const child = spawn(BERTH, ["registry", "serve", "--addr", "127.0.0.1:0", ...args], { stdio: ["ignore", outFd, errFd] });
  closeSync(outFd);
  closeSync(errFd);
  const read = (f: string) => {
    try {
      return readFileSync(f, "utf8");
    } catch {
      return "";
    }
  };
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  let url: string | undefined;
  for (let i = 0; i < 600 && url === undefined; i++) {
    url = /serving (https?:\/\/127\.0\.0\.1:\d+)/.exec(read(outFile))?.[1];
    if (url === undefined) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (url === undefined) {
    child.kill("SIGKILL");
    const msg = `registry serve did not start: ${read(outFile)} ${read(errFile)}`;
    rmSync(logs, { recursive: true, force: true });
    throw new Error(msg);
  }
  const port = Number(new URL(url).port);
  let stopped: Promise<number | null> | undefined;
  let out = "";
  let err = "";
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    child,
    stdout: () => (stopped ? out : read(outFile)),
    stderr: () => (stopped ? err : read(errFile)),
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        const code = await exited;
        clearTimeout(timer);
        out = read(outFile);
        err = read(errFile);
        rmSync(logs, { recursive: true, force: true });
        return code;
      })();
      return stopped;
    },
  };
}
