// history: an image's steps, newest first, as docker history shows them.
import type { Command } from "commander";
import { formatRows, humanAgo, humanSize } from "../render.js";
import { type CommandEnv, imageStore } from "./globals.js";

export function register(parent: Command, env: CommandEnv, name = "history"): void {
  parent
    .command(name)
    .description("show the history of an image")
    .argument("<image>", "name or ID")
    .option("-H, --human <bool>", "human-readable sizes and dates", "true")
    .option("--no-trunc", "do not truncate the output")
    .option("-q, --quiet", "only the IDs")
    .option("--format <format>", "table, json, or a template such as {{.CreatedBy}}")
    .action((ref: string, opts: { human: string; trunc?: boolean; quiet?: boolean; format?: string }) => {
      const store = imageStore(env);
      const image = store.resolve(ref);
      const human = opts.human !== "false";
      const history = image.config.history ?? [];
      let layer = 0;
      const rows = history.map((h, i) => {
        // a history entry without empty_layer made the next layer of the chain
        const chain = h.empty_layer ? undefined : image.chain[layer++];
        const size = chain ? (store.snapshots.info(chain)?.size ?? 0) : 0;
        const createdBy = h.created_by ?? "";
        return {
          ID: i === history.length - 1 ? (opts.trunc === false ? image.id : image.id.slice(7, 19)) : "<missing>",
          CreatedSince: human ? humanAgo(h.created) : (h.created ?? ""),
          CreatedAt: h.created ?? "",
          CreatedBy: opts.trunc === false || createdBy.length <= 45 ? createdBy : createdBy.slice(0, 44) + "…",
          Size: human ? humanSize(size) : String(size),
          Comment: h.comment ?? "",
        };
      });
      rows.reverse();
      if (opts.quiet) {
        for (const r of rows) env.cli.stdout.write(r.ID + "\n");
        return;
      }
      env.cli.stdout.write(formatRows(opts.format, { ID: "IMAGE", CreatedSince: "CREATED", CreatedBy: "CREATED BY", Size: "SIZE", Comment: "COMMENT" }, rows));
    });
}
