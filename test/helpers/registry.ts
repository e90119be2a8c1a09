// Starts `bin/berth registry serve` on a free loopback port for a test and stops it by pid.
import { spawn, type ChildProcess } from "node:child_process";
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
  /** SIGTERM, then waits (bounded) for the exit; returns the exit code */
  stop(): Promise<number | null>;
}

export async function serve(args: string[]): Promise<Served> {
  const child = spawn(BERTH, ["registry", "serve", "--addr", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`registry serve did not start in 30 s: ${out} ${err}`)), 30_000);
    const look = () => {
      const m = /serving (https?:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", look);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`registry serve exited with ${code}: ${err.trim()}`));
    });
  });
  const port = Number(new URL(url).port);
  let stopped: Promise<number | null> | undefined;
  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    child,
    stdout: () => out,
    stderr: () => err,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      })();
      return stopped;
    },
  };
}
