// attach: berth's stdin, stdout and stderr to a running container, through its monitor's attach
// socket. With a terminal on both sides, ours is in raw mode (restored on every way out) and
// follows the window size; Ctrl-P Ctrl-Q (--detach-keys) detaches and leaves the container
// running; when the container exits, berth exits with its code.
import { spawnSync } from "node:child_process";
import type { Command } from "commander";
import type { ReadStream, WriteStream } from "node:tty";
import type { Attachment, AttachOptions, Engine } from "../../engine/index.js";
import { onCallerSignal } from "../context.js";
import { type CommandEnv, engine } from "./globals.js";

/** The size of berth's own terminal, if stdout is one. */
export function terminalSize(env: CommandEnv): { rows: number; cols: number } | undefined {
  const out = env.cli.stdout as Partial<WriteStream>;
  return out.isTTY && out.rows && out.columns ? { rows: out.rows, cols: out.columns } : undefined;
}

/**
 * Runs an attachment until the container exits (its exit code) or berth detaches (undefined).
 * `stdin`: berth's input goes to the container (-i, and not --no-stdin).
 */
export async function attachSession(env: CommandEnv, e: Engine, a: Attachment, opts: { stdin: boolean }): Promise<number | undefined> {
  const input = opts.stdin ? (env.cli.stdin as (NodeJS.ReadableStream & Partial<ReadStream>) | undefined) : undefined;
  const raw = Boolean(a.tty && a.openStdin && input?.isTTY && input.setRawMode);
  const cleanups: (() => void)[] = [];
  try {
    if (raw) {
      input!.setRawMode!(true);
      cleanups.push(() => input!.setRawMode!(false)); // libuv puts back the whole termios it saved
      // Node's raw mode keeps output processing; the container's pty already made its \r\n
      // (Docker's raw mode clears OPOST too)
      const fd = (input as unknown as { fd?: number }).fd;
      if (typeof fd === "number") spawnSync("stty", ["-opost"], { stdio: [fd, "ignore", "ignore"] });
    }
    const out = new Promise<void>((resolve) => {
      let open = 2;
      const end = () => --open === 0 && resolve();
      a.stdout.on("data", (d: Buffer) => env.cli.stdout.write(d)).once("end", end);
      a.stderr.on("data", (d: Buffer) => env.cli.stderr.write(d)).once("end", end);
    });
    if (a.tty) {
      const resize = () => {
        const s = terminalSize(env);
        if (s) a.resize(s.rows, s.cols);
      };
      process.on("SIGWINCH", resize);
      cleanups.push(() => process.off("SIGWINCH", resize));
    }
    // without a terminal in raw mode, signals typed at berth are the container's (Docker's --sig-proxy);
    // in raw mode Ctrl-C is a key that reaches it through the terminal
    const forward = (sig: NodeJS.Signals) => {
      if (raw) return a.detach(); // the terminal went away (SIGHUP) or berth is told to stop
      try {
        e.kill(a.id, sig);
      } catch {
        // it has just exited
      }
    };
    const signals: NodeJS.Signals[] = raw ? ["SIGTERM", "SIGHUP"] : ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];
    cleanups.push(onCallerSignal(env.cli, signals, forward));
    if (input && a.openStdin) {
      const onData = (d: Buffer | string) => a.write(d);
      const onEnd = () => a.closeStdin();
      input.on("data", onData);
      input.once("end", onEnd);
      input.resume();
      cleanups.push(() => {
        input.off("data", onData);
        input.off("end", onEnd);
        input.pause();
      });
    }
    const code = await a.done;
    await out;
    return code;
  } finally {
    for (const c of cleanups.reverse()) c();
  }
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("attach")
    .description("attach berth's input and output to a running container")
    .argument("<container>", "name or ID")
    .option("--detach-keys <keys>", "the keys that detach (default ctrl-p,ctrl-q)")
    .option("--no-stdin", "do not send berth's input to the container")
    .action(async (ref: string, opts: { detachKeys?: string; stdin: boolean }) => {
      const e = engine(env);
      const attachOpts: AttachOptions = { detachKeys: opts.detachKeys, size: terminalSize(env) };
      const a = await e.attach(ref, attachOpts);
      const code = await attachSession(env, e, a, { stdin: opts.stdin });
      if (code !== undefined) env.exitCode = code;
    });
}
