// OCI hooks (config.md "POSIX-platform Hooks"): each gets the container's state on stdin.
// prestart/createRuntime/poststart/poststop run here, in the runtime's namespaces;
// createContainer/startContainer run inside the container and are done by the executor.
import { spawn } from "node:child_process";
import { BerthError } from "../errors.js";
import type { Hook, State } from "../oci/runtime-spec.js";

export type HookKind = "prestart" | "createRuntime" | "createContainer" | "startContainer" | "poststart" | "poststop";

/** Runs hooks in order; the first failure throws (the caller decides whether it is fatal). */
export async function runHooks(kind: HookKind, hooks: Hook[] | undefined, state: State): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) await runHook(kind, i, hook, state);
}

/** Runs hooks whose failure is only worth a warning (poststart, poststop). */
export async function runHooksWarn(kind: HookKind, hooks: Hook[] | undefined, state: State, warn: (msg: string) => void): Promise<void> {
  for (const [i, hook] of (hooks ?? []).entries()) {
    try {
      await runHook(kind, i, hook, state);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}

function runHook(kind: HookKind, index: number, hook: Hook, state: State): Promise<void> {
  const what = `${kind} hook ${index} (${hook.path})`;
  return new Promise((resolve, reject) => {
    const args = hook.args && hook.args.length > 0 ? hook.args : [hook.path];
    const env = Object.fromEntries((hook.env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const child = spawn(hook.path, args.slice(1), { argv0: args[0], env, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString("utf8");
    });
    let timedOut = false;
    const timer = hook.timeout !== undefined
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, hook.timeout * 1000)
      : undefined;
    child.stdin.on("error", () => undefined); // a hook need not read its stdin
    child.stdin.end(JSON.stringify(state));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new BerthError("FailedPrecondition", `${what}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file or directory" : e.message}`));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) return reject(new BerthError("FailedPrecondition", `${what}: timed out after ${hook.timeout}s`));
      if (code === 0) return resolve();
      const detail = stderr.trim().split("\n").pop();
      reject(new BerthError("FailedPrecondition", `${what}: exited with ${signal ? `signal ${signal}` : `status ${code}`}${detail ? `: ${detail}` : ""}`));
    });
  });
}
