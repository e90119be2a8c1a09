// info: what this host offers berth, and where berth keeps its data.
import { existsSync } from "node:fs";
import type { Command } from "commander";
import { detectCgroupMode } from "../../cgroups/index.js";
import { overlaySupported } from "../../image/index.js";
import { executorPath } from "../../runtime/executor.js";
import { type CommandEnv, dataRoot, imageStore } from "./globals.js";
import { VERSION } from "./version.js";

export function register(program: Command, env: CommandEnv): void {
  program
    .command("info")
    .description("show what this host offers berth")
    .option("--format <format>", "text or json", "text")
    .action((opts: { format: string }) => {
      const store = imageStore(env);
      const info = {
        version: VERSION,
        node: process.version,
        root: dataRoot(env),
        storageDriver: store.snapshots.kind,
        images: store.list().length,
        cgroupMode: detectCgroupMode(),
        executor: executorPath(),
        overlay: overlaySupported(),
        userNamespaces: existsSync("/proc/self/ns/user"),
      };
      if (opts.format === "json") env.cli.stdout.write(JSON.stringify(info, null, 2) + "\n");
      else for (const [k, v] of Object.entries(info)) env.cli.stdout.write(`${k}: ${v}\n`);
    });
}
