// A RUN step: the command in a real container on the step's mounted file system, through the
// OCI runtime with Docker's defaults (capabilities, seccomp, masked paths; containerSpec), on
// network none unless asked, its output streamed back as it comes. The executor is spawned
// with pipes for stdout and stderr (the container inherits them). No record in the engine's
// database: the runtime state, cgroup and run directory are removed whatever happens.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import type { Duplex } from "node:stream";
import type { ImageConfig } from "../oci/index.js";
import * as runtime from "../runtime/index.js";
import { executorPath } from "../runtime/executor.js";
import type { Launcher } from "../runtime/launcher.js";
import type { EngineContext } from "../engine/context.js";
import { parseOptions } from "../engine/options.js";
import { containerSpec } from "../engine/spec.js";

export interface RunInput {
  rootfs: string;
  config: ImageConfig;
  args: string[];
  /** build args in effect (NAME=value), under the image's Env */
  env: string[];
  network: "none" | "host";
  signal?: AbortSignal;
  onOutput(stream: "stdout" | "stderr", data: Buffer): void;
}

/** A launcher whose executor (and so the container) writes into pipes read here. */
function pipeLauncher(onOutput: RunInput["onOutput"]): Launcher {
  return {
    async launch(plan, opts) {
      const child = spawn(executorPath(), ["exec"], { stdio: ["ignore", "pipe", "pipe", "pipe"], env: {} });
      child.stdout!.on("data", (d: Buffer) => onOutput("stdout", d));
      child.stderr!.on("data", (d: Buffer) => onOutput("stderr", d));
      const sync = child.stdio[3] as Duplex;
      sync.write(plan);
      const exited = opts.stay
        ? new Promise<number>((resolve) => {
            // "close": the exit status and all of the output
            child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 255)));
          })
        : undefined;
      return {
        sync,
        exited,
        status: () => {
          const code = child.exitCode ?? child.signalCode;
          return code === null ? "" : ` (executor status ${code})`;
        },
        release: () => child.unref(),
        kill: () => {
          child.kill("SIGKILL");
          sync.destroy();
        },
      };
    },
  };
}

/** Runs the step's command; resolves with its exit code. */
export async function runStep(ctx: EngineContext, input: RunInput): Promise<number> {
  const id = `build-${process.pid}-${randomBytes(8).toString("hex")}`;
  const runDir = path.join(ctx.runroot, "build", id);
  fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
  try {
    const c = input.config.config ?? {};
    const etc = { hosts: path.join(runDir, "hosts"), hostname: path.join(runDir, "hostname"), resolvConf: path.join(runDir, "resolv.conf") };
    fs.writeFileSync(etc.hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${id.slice(-12)}\n`);
    fs.writeFileSync(etc.hostname, `${id.slice(-12)}\n`);
    let resolv = "";
    try {
      resolv = fs.readFileSync("/etc/resolv.conf", "utf8");
    } catch {
      // none on the host
    }
    fs.writeFileSync(etc.resolvConf, resolv);
    // ENV wins over a build arg of the same name
    const envNames = new Set((c.Env ?? []).map((e) => e.split("=")[0]));
    const h = parseOptions({
      image: "build",
      command: input.args,
      entrypoint: [],
      env: input.env.filter((e) => !envNames.has(e.split("=")[0])),
      user: c.User || undefined,
      workdir: c.WorkingDir || "/",
      network: input.network,
      hostname: id.slice(-12),
    });
    const spec = containerSpec({ id, hostConfig: h, image: input.config, rootfs: input.rootfs, etc, volumeDirs: {}, cgroupsPath: `/berth/${id}` });
    fs.writeFileSync(path.join(runDir, "config.json"), JSON.stringify(spec));
    const running = await runtime.run(ctx.runtime, { id, bundle: runDir, launcher: pipeLauncher(input.onOutput), stdio: ["ignore", "ignore", "ignore"] });
    const cancel = () => running.signal(9);
    input.signal?.addEventListener("abort", cancel);
    try {
      if (input.signal?.aborted) cancel();
      return await running.wait();
    } finally {
      input.signal?.removeEventListener("abort", cancel);
    }
  } finally {
    try {
      await runtime.remove(ctx.runtime, id, true);
    } catch {
      // never made, or already removed by wait()
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}
