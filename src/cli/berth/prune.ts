// image prune and system prune: remove what nothing uses, after asking (unless -f).
import type { Command } from "commander";
import { humanSize } from "../render.js";
import { pruneBuildCache } from "../../build/index.js";
import { type CommandEnv, dataRoot, imageStore } from "./globals.js";

/** Asks on the terminal; without one (a script), only -f goes ahead, as a safe default. */
async function confirm(env: CommandEnv, question: string): Promise<boolean> {
  const stdin = env.cli.stdin as (NodeJS.ReadableStream & { isTTY?: boolean }) | undefined;
  env.cli.stdout.write(`${question}\nAre you sure you want to continue? [y/N] `);
  if (!stdin) return false;
  const answer = await new Promise<string>((resolve) => {
    let got = "";
    const onData = (d: Buffer | string) => {
      got += d.toString();
      if (got.includes("\n")) done();
    };
    const done = () => {
      stdin.off("data", onData);
      stdin.off("end", done);
      stdin.pause?.();
      resolve(got);
    };
    stdin.on("data", onData);
    stdin.on("end", done);
  });
  return /^\s*y(es)?\s*$/i.test(answer.split("\n")[0] ?? "");
}

function report(env: CommandEnv, deleted: string[], reclaimed: number): void {
  if (deleted.length) env.cli.stdout.write(`Deleted Images:\n${deleted.map((d) => `deleted: ${d}\n`).join("")}\n`);
  env.cli.stdout.write(`Total reclaimed space: ${humanSize(reclaimed)}\n`);
}

export function registerImagePrune(image: Command, env: CommandEnv): void {
  image
    .command("prune")
    .description("remove unused images: dangling ones, or with -a every image no container uses")
    .option("-a, --all", "remove every image no container uses, not only dangling ones")
    .option("-f, --force", "do not ask")
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      const what = opts.all ? "This will remove all images without at least one container associated to them." : "This will remove all dangling images.";
      if (!opts.force && !(await confirm(env, `WARNING! ${what}`))) return;
      const r = imageStore(env).prune({ all: opts.all });
      report(env, r.deleted, r.reclaimed);
    });
}

export function registerSystemPrune(system: Command, env: CommandEnv): void {
  system
    .command("prune")
    .description("remove unused data: dangling images (all unused with -a), unreferenced blobs and layers, stale partial downloads")
    .option("-a, --all", "remove every image no container uses, not only dangling ones")
    .option("-f, --force", "do not ask")
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      const what = ["all dangling images", ...(opts.all ? ["all images without at least one container associated to them"] : []), "all unreferenced blobs and layers", "all stale partial downloads", "all build cache"];
      if (!opts.force && !(await confirm(env, `WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join("")}`))) return;
      const store = imageStore(env);
      const r = store.prune({ all: opts.all });
      store.content.cleanIngests(60 * 60 * 1000);
      const b = await pruneBuildCache(dataRoot(env));
      if (b.deleted.length) env.cli.stdout.write(`Deleted build cache objects:\n${b.deleted.join("\n")}\n\n`);
      report(env, r.deleted, r.reclaimed + b.reclaimed);
    });
}

export function registerBuilderPrune(program: Command, env: CommandEnv): void {
  const builder = program.command("builder").description("manage the build cache");
  builder
    .command("prune")
    .description("remove the build cache: every step's cache record and every RUN --mount=type=cache directory")
    .option("-a, --all", "the same (kept for docker's scripts: berth's prune always takes all of it)")
    .option("-f, --force", "do not ask")
    .action(async (opts: { all?: boolean; force?: boolean }) => {
      if (!opts.force && !(await confirm(env, "WARNING! This will remove all build cache."))) return;
      const b = await pruneBuildCache(dataRoot(env));
      if (b.deleted.length) env.cli.stdout.write(`Deleted build cache objects:\n${b.deleted.join("\n")}\n\n`);
      env.cli.stdout.write(`Total reclaimed space: ${humanSize(b.reclaimed)}\n`);
    });
}
