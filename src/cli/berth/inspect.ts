// inspect: containers (or images) as JSON, or through --format.
import type { Command } from "commander";
import { BerthError, notFound } from "../../errors.js";
import { renderTemplate } from "../render.js";
import { type CommandEnv, engine, imageStore } from "./globals.js";
import { inspectImage } from "./image-inspect.js";

export function register(parent: Command, env: CommandEnv, kind: "any" | "container" = "any"): void {
  parent
    .command("inspect")
    .description(kind === "any" ? "show containers' or images' details as JSON" : "show containers' details as JSON")
    .argument("<name...>", "names or IDs")
    .option("-f, --format <template>", "a template such as {{.State.Status}} or {{json .Config}}")
    .option("--type <type>", "container or image")
    .action((names: string[], opts: { format?: string; type?: string }) => {
      const found: Record<string, unknown>[] = [];
      let missing: unknown;
      const type = kind === "container" ? "container" : opts.type;
      for (const n of names) {
        try {
          if (type !== "image") {
            try {
              found.push(engine(env).inspect(n));
              continue;
            } catch (e) {
              if (type === "container" || !(e instanceof BerthError && e.kind === "NotFound")) throw e;
            }
          }
          const store = imageStore(env);
          found.push(inspectImage(store, store.resolve(n)));
        } catch (e) {
          missing ??= e instanceof BerthError && e.kind === "NotFound" ? notFound(`No such object: ${n}`) : e;
        }
      }
      if (opts.format) for (const f of found) env.cli.stdout.write(renderTemplate(opts.format.replace(/\\n/g, "\n").replace(/\\t/g, "\t"), f) + "\n");
      else env.cli.stdout.write(JSON.stringify(found, null, 4) + "\n");
      if (missing) throw missing;
    });
}
