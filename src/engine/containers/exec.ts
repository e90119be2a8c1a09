// exec: a new process in a running container, with its environment, user and working
// directory unless told otherwise; returns its exit status.
import { conflict } from "../../errors.js";
import type { Process } from "../../oci/index.js";
import * as runtime from "../../runtime/index.js";
import type { EngineContext } from "../context.js";
import { mergeEnv, resolveUser } from "../spec.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { CommandError } from "./start.js";

export interface ExecOptions {
  command: string[];
  env?: string[];
  user?: string;
  workdir?: string;
  detach?: boolean;
  /** the new process's stdio: fds it inherits (default the caller's) */
  stdio?: [number | "ignore", number | "ignore", number | "ignore"];
  privileged?: boolean;
  /** -t: a terminal, proxied to stdio by the executor (raw mode when stdin is one) */
  tty?: boolean;
  /** the terminal's initial size */
  consoleSize?: { rows: number; cols: number };
}

export async function exec(ctx: EngineContext, ref: string, opts: ExecOptions): Promise<{ pid: number; exitCode?: number }> {
  const row = refresh(ctx, lookup(ctx, ref));
  if (!row || row.state !== "running") throw conflict(`container ${row?.id ?? ref} is not running`);
  if (opts.command.length === 0) throw conflict("exec: no command given");
  const c = runtime.Container.load(ctx.runtime, row.id);
  const base = c.record.config.process!;
  const proc: Process = {
    ...base,
    terminal: opts.tty ?? false,
    consoleSize: opts.tty && opts.consoleSize ? { height: opts.consoleSize.rows, width: opts.consoleSize.cols } : undefined,
    args: opts.command,
    env: mergeEnv(opts.tty ? ["TERM=xterm"] : [], base.env ?? [], opts.env ?? []),
    cwd: opts.workdir ?? base.cwd,
    user: opts.user ? resolveUser(ctx.paths(row.id).rootfs, opts.user) : base.user,
  };
  let r;
  try {
    r = await runtime.exec(ctx.runtime, row.id, { process: proc, detach: opts.detach, stdio: opts.stdio ?? [0, 1, 2] });
  } catch (e) {
    const m = e instanceof Error ? /^exec: "(.*)": (.*)$/.exec(e.message) : null;
    if (m) throw new CommandError(m[2] === "no such file or directory" ? `exec: "${m[1]}": executable file not found in $PATH` : e!.toString(), m[2] === "no such file or directory" ? 127 : 126);
    throw e;
  }
  return { pid: r.pid, exitCode: r.exited ? await r.exited : undefined };
}
