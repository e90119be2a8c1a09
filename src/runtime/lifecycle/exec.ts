// exec: a new process inside every namespace and the cgroup of a running container.
import { failedPrecondition } from "../../errors.js";
import type { Process } from "../../oci/runtime-spec.js";
import { Container, type RuntimeContext } from "../container.js";
import { type Launcher, spawnLauncher } from "../launcher.js";
import { compileExecPlan, type CompiledSeccomp } from "../plan.js";
import { encodePlan, SyncPoint } from "../protocol.js";
import { compileSeccomp } from "../seccomp/index.js";
import { launchPlan } from "../session.js";
import { writePidFile } from "./create.js";

export interface ExecOptions {
  process: Process;
  /** return once the process runs instead of waiting for it */
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  launcher?: Launcher;
  stdio?: [number | "ignore", number | "ignore", number | "ignore"];
  seccomp?: CompiledSeccomp;
}

export interface Executed {
  pid: number;
  /** without `detach`: the process's exit status (128+n for signal n) */
  exited?: Promise<number>;
}

export async function exec(ctx: RuntimeContext, id: string, opts: ExecOptions): Promise<Executed> {
  const c = Container.load(ctx, id);
  const status = c.status();
  if (status !== "running" && status !== "created") {
    throw failedPrecondition(`container "${id}" is not running (status: ${status})`);
  }
  const plan = compileExecPlan({
    process: opts.process,
    spec: c.record.config,
    initPid: c.pid,
    stay: !opts.detach,
    consoleSocket: opts.consoleSocket,
    // the container's filter, unless the caller brings another (runc applies the container's)
    seccomp: opts.seccomp ?? (c.record.config.linux?.seccomp ? compileSeccomp(c.record.config.linux.seccomp) : undefined),
  });
  const { launch, pid } = await launchPlan(opts.launcher ?? spawnLauncher, encodePlan(plan.ops), {
    stay: !opts.detach,
    stdio: opts.stdio ?? [0, 1, 2],
    onPid: () => undefined,
    onSync: (point, p) => {
      if (point === SyncPoint.SETUP) c.cgroup.addProcess(p);
    },
  });
  launch.sync.destroy();
  if (opts.pidFile) writePidFile(opts.pidFile, pid);
  if (opts.detach) launch.release();
  return { pid, exited: opts.detach ? undefined : launch.exited };
}
