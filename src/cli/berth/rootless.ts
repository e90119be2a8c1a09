// An unprivileged berth runs inside its user's namespace (README "Unprivileged berth"): this
// process re-runs the same command there, through native/build/berth-userns, and passes on
// its exit status. Inside, berth is uid 0 of the namespace and takes the ordinary paths.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { berthBin, defaultRoot, defaultRunroot, userNamespacePlan } from "../../engine/index.js";
import { type CliContext, reportError } from "../context.js";

const NO_NAMESPACE = new Set(["-h", "--help", "help", "-v", "--version"]);
/** signals the caller may send this process alone; INT and QUIT come from the terminal to both */
const FORWARDED: NodeJS.Signals[] = ["SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"];

/** The command's exit status from inside the namespace, or undefined when this process should run it itself. */
export async function runInUserNamespace(argv: string[], cli: CliContext): Promise<number | undefined> {
  if (process.geteuid?.() === 0 || argv.length === 0 || NO_NAMESPACE.has(argv[0])) return undefined;
  // only a whole process re-runs itself (not a command the warm service runs for someone)
  if (cli.stdout !== process.stdout) return undefined;
  const env = cli.env;
  const root = env.BERTH_ROOT ?? defaultRoot(env);
  const runroot = env.BERTH_RUNROOT ?? defaultRunroot(env);
  let helper: string[];
  try {
    const info = os.userInfo();
    helper = userNamespacePlan({ name: info.username, uid: info.uid, gid: info.gid }, path.join(runroot, "pause.pid"), env).helper;
    // made by the user, so that root of the namespace (which maps the user too) may use them
    mkdirSync(root, { recursive: true, mode: 0o700 });
    mkdirSync(runroot, { recursive: true, mode: 0o700 });
  } catch (e) {
    reportError("berth", e, {}, cli.stderr);
    return 125;
  }
  const child = spawn(helper[0], [...helper.slice(1), process.execPath, berthBin(), ...argv], {
    stdio: "inherit",
    cwd: cli.cwd,
    // inside, uid 0 would mean /var/lib/berth and root's warm service: the user's own paths instead
    env: { ...env, BERTH_ROOT: root, BERTH_RUNROOT: runroot, BERTH_NO_WARM: "1" },
  });
  const forward = (s: NodeJS.Signals) => child.kill(s);
  const ignore = () => undefined;
  for (const s of FORWARDED) process.on(s, forward);
  process.on("SIGINT", ignore);
  process.on("SIGQUIT", ignore);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve(code ?? 128 + (signal ? os.constants.signals[signal] : 0)));
    });
  } finally {
    for (const s of FORWARDED) process.off(s, forward);
    process.off("SIGINT", ignore);
    process.off("SIGQUIT", ignore);
  }
}
