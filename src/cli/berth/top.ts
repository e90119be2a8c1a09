// top: a container's processes, as docker top shows them (ps -ef columns, or the ps options given).
import type { Command } from "commander";
import { type CommandEnv, engine } from "./globals.js";

/** Columns as docker's tabwriter lays them out: at least 20 wide, 3 spaces of padding; the last one as is. */
export function tabwrite(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.slice(0, -1).forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 20, c.length + 3)));
  return rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]!) : c)).join("") + "\n").join("");
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("top")
    .description("show the processes of a running container (ps -ef, or the ps options given)")
    .argument("<container>", "name or ID")
    .argument("[ps-options...]", "options for ps, such as -o pid,comm")
    .allowUnknownOption()
    .passThroughOptions()
    .helpOption("--help", "display help for command")
    .action((ref: string, psArgs: string[]) => {
      const t = engine(env).top(ref, psArgs);
      env.cli.stdout.write(tabwrite([t.titles, ...t.processes]));
    });
}
