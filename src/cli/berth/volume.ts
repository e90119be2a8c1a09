// volume: named volumes that outlive containers.
import type { Command } from "commander";
import { formatRows } from "../render.js";
import { type CommandEnv, engine } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

export function register(program: Command, env: CommandEnv): void {
  const volume = program.command("volume").description("manage volumes");
  volume
    .command("create")
    .description("create a volume")
    .argument("[name]", "its name (default: a random one)")
    .option("-l, --label <KEY=VALUE>", "a label (repeatable)", many, [])
    .action((name: string | undefined, opts: { label: string[] }) => {
      const labels = Object.fromEntries(opts.label.map((l) => [l.split("=")[0]!, l.split("=").slice(1).join("=")]));
      const v = engine(env).createVolume(name ?? (globalThis.crypto.randomUUID().replace(/-/g, "") + globalThis.crypto.randomUUID().replace(/-/g, "")), labels);
      env.cli.stdout.write(`${v.name}\n`);
    });
  volume
    .command("ls")
    .alias("list")
    .description("list volumes")
    .option("-q, --quiet", "only the names")
    .option("--format <format>", "table, json, or a template such as {{.Name}}")
    .action((opts: { quiet?: boolean; format?: string }) => {
      const vols = engine(env).volumes();
      if (opts.quiet) {
        for (const v of vols) env.cli.stdout.write(`${v.name}\n`);
        return;
      }
      env.cli.stdout.write(formatRows(opts.format, { Driver: "DRIVER", Name: "VOLUME NAME" }, vols.map((v) => ({ Driver: "local", Name: v.name, Mountpoint: v.mountpoint, Labels: v.labels }))));
    });
  volume
    .command("inspect")
    .description("show volumes' details as JSON")
    .argument("<name...>")
    .action((names: string[]) => {
      const out = names.map((n) => {
        const v = engine(env).volume(n);
        return { CreatedAt: v.created, Driver: "local", Labels: v.labels, Mountpoint: v.mountpoint, Name: v.name, Scope: "local" };
      });
      env.cli.stdout.write(JSON.stringify(out, null, 4) + "\n");
    });
  volume
    .command("rm")
    .alias("remove")
    .description("remove volumes (refused while a container uses one, unless -f)")
    .argument("<name...>")
    .option("-f, --force", "remove even when a container uses it")
    .action((names: string[], opts: { force?: boolean }) => {
      for (const n of names) {
        engine(env).removeVolume(n, opts);
        env.cli.stdout.write(`${n}\n`);
      }
    });
  volume
    .command("prune")
    .description("remove volumes no container uses (anonymous ones; -a named ones too)")
    .option("-a, --all", "named volumes too")
    .option("-f, --force", "do not ask (berth never asks here)")
    .action((opts: { all?: boolean }) => {
      const gone = engine(env).pruneVolumes(opts);
      if (gone.length) env.cli.stdout.write(`Deleted Volumes:\n${gone.map((g) => `${g}\n`).join("")}\n`);
    });
}
