// image inspect: what docker image inspect prints, as a JSON array (or through --format).
import type { Command } from "commander";
import { parseReference, type Image, type ImageStore } from "../../image/index.js";
import { renderTemplate } from "../render.js";
import { type CommandEnv, imageStore } from "./globals.js";

/** The image in Docker's inspect shape. */
export function inspectImage(store: ImageStore, image: Image): Record<string, unknown> {
  const c = image.config;
  return {
    Id: image.id,
    RepoTags: image.names.map((n) => parseReference(n).familiar()),
    RepoDigests: [...new Set(image.names.map((n) => `${parseReference(parseReference(n).name).familiar().replace(/:latest$/, "")}@${image.manifest.digest}`))],
    Parent: "",
    Comment: c.history?.at(-1)?.comment ?? "",
    Created: c.created ?? image.added,
    Author: c.author ?? "",
    Config: c.config ?? {},
    Architecture: c.architecture,
    ...(c.variant ? { Variant: c.variant } : {}),
    Os: c.os,
    Size: image.size,
    RootFS: { Type: c.rootfs.type, Layers: c.rootfs.diff_ids },
    Metadata: { LastTagTime: image.added },
    Descriptor: image.manifest,
    GraphDriver: { Name: store.snapshots.kind, Data: { ChainIDs: image.chain } },
  };
}

export function register(parent: Command, env: CommandEnv, name = "inspect"): void {
  parent
    .command(name)
    .description("show an image's details as JSON")
    .argument("<image...>", "names or IDs")
    .option("-f, --format <template>", "a template such as {{.Id}} or {{json .Config}}")
    .action((names: string[], opts: { format?: string }) => {
      const store = imageStore(env);
      const found: Record<string, unknown>[] = [];
      let missing: unknown;
      for (const n of names) {
        try {
          found.push(inspectImage(store, store.resolve(n)));
        } catch (e) {
          // docker prints what it found, then the error for what it did not
          missing ??= e;
        }
      }
      const out = env.cli.stdout;
      if (opts.format) for (const f of found) out.write(renderTemplate(opts.format.replace(/\\n/g, "\n").replace(/\\t/g, "\t"), f) + "\n");
      else out.write(JSON.stringify(found, null, 4) + "\n");
      if (missing) throw missing;
    });
}
