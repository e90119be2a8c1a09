// A RUN step: the command in a real container on the step's mounted file system, through the
// OCI runtime with Docker's defaults (capabilities, seccomp, masked paths; containerSpec), on
// the default bridge network (or none or host as asked), its output streamed back as it comes. The executor is spawned
// with pipes for stdout and stderr (the container inherits them). No record in the engine's
// database: the runtime state, cgroup and run directory are removed whatever happens.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import type { ImageConfig } from "../oci/index.js";
import * as runtime from "../runtime/index.js";
import { executorPath } from "../runtime/executor.js";
import { executorLaunch, type Launcher } from "../runtime/launcher.js";
import { CGROUP_PARENT, cgroupsPathOf, type EngineContext } from "../engine/context.js";
import { removeIdleParent } from "../cgroups/index.js";
import { parseOptions } from "../engine/options.js";
import { attachContainer, detachContainer, getNetwork, netnsPath } from "../engine/networks.js";
import { containerSpec } from "../engine/spec.js";

/** An OCI mount, as RUN --mount gives it */
export interface StepMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface RunInput {
  rootfs: string;
  config: ImageConfig;
  args: string[];
  /** build args in effect (NAME=value), under the image's Env */
  env: string[];
  network: "none" | "host" | "bridge";
  /** RUN --mount's, after the container's own */
  mounts?: StepMount[];
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
      return executorLaunch(child, plan, opts.stay, "close");
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
    // a resolver on the host's loopback cannot be reached from the step's own network namespace
    if (input.network !== "host") resolv = resolv.split("\n").filter((l) => !/^\s*nameserver\s+(127\.|::1\s*$)/.test(l)).join("\n");
    fs.writeFileSync(etc.resolvConf, resolv);
    // on the default network: a netns of its own attached through CNI, like a container's
    let netns: string | undefined;
    if (input.network === "bridge") netns = netnsPath((await attachContainer(ctx, id, getNetwork(ctx, "bridge").name)).netns);
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
    const spec = containerSpec({ id, hostConfig: h, image: input.config, rootfs: input.rootfs, etc, volumeDirs: {}, cgroupsPath: cgroupsPathOf(id), netns });
    if (input.mounts?.length) spec.mounts = [...(spec.mounts ?? []), ...input.mounts];
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
    removeIdleParent(CGROUP_PARENT);
    if (input.network === "bridge") await detachContainer(ctx, id);
    fs.rmSync(runDir, { recursive: true, force: true });
  }
}
