// ps: the processes of a container (every pid in its cgroup).
import { readFileSync } from "node:fs";
import { failedPrecondition } from "../../errors.js";
import { Container, type RuntimeContext } from "../container.js";

export interface ContainerProcess {
  pid: number;
  command: string;
}

export function ps(ctx: RuntimeContext, id: string): ContainerProcess[] {
  const c = Container.load(ctx, id);
  if (c.status() === "stopped") throw failedPrecondition(`container "${id}" is not running`);
  return c.cgroup
    .pids()
    .sort((a, b) => a - b)
    .map((pid) => ({ pid, command: commandOf(pid) }));
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
  } catch {
    return "";
  }
}
