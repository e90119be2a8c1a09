// images: the images in the store, as `docker images` lists them.
import type { Command } from "commander";
import { parseReference, type Image } from "../../image/index.js";
import { formatRows, humanAgo, humanSize } from "../render.js";
import { type CommandEnv, imageStore } from "./globals.js";

interface Options {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  /** false with --no-trunc (commander negates it) */
  trunc?: boolean;
  format?: string;
}

/** One row per name (an image without names is one <none> row), as docker does. */
function rows(images: Image[], opts: Options, filter?: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  const want = filter === undefined ? undefined : parseFilter(filter);
  for (const image of images) {
    const id = opts.trunc === false ? image.id : image.id.slice(7, 19);
    const names = image.names.length ? image.names : [undefined];
    for (const n of names) {
      const ref = n === undefined ? undefined : parseReference(n);
      const repository = ref ? parseReference(ref.name).familiar().replace(/:latest$/, "") : "<none>";
      if (want && (!ref || !want(ref.name, ref.tag))) continue;
      out.push({
        Repository: repository,
        Tag: ref?.tag ?? "<none>",
        Digest: image.manifest.digest,
        ID: id,
        CreatedSince: humanAgo(image.config.created ?? image.added),
        CreatedAt: image.config.created ?? image.added,
        Size: humanSize(image.size),
      });
    }
  }
  return out;
}

/**
 * Docker's intermediate images, which `images` hides and `images -a` shows: no name, and the
 * layers of another image start with all of its layers (berth keeps no parent links: the chain
 * says it).
 */
function intermediate(image: Image, images: Image[]): boolean {
  if (image.names.length > 0 || image.chain.length === 0) return false;
  const top = image.chain.at(-1);
  return images.some((o) => o.chain.length > image.chain.length && o.chain[image.chain.length - 1] === top);
}

/** `berth images busybox` / `busybox:1.36` / `localhost:5000/*`: which names to show. */
function parseFilter(s: string): (name: string, tag?: string) => boolean {
  const star = s.includes("*");
  if (star) {
    const re = new RegExp("^" + s.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*") + "$");
    return (name, tag) => re.test(parseReference(name).familiar().replace(/:latest$/, "")) || re.test(`${parseReference(name).familiar().replace(/:latest$/, "")}:${tag}`);
  }
  const ref = parseReference(s);
  const tagGiven = /:[^/]+$/.test(s);
  return (name, tag) => name === ref.name && (!tagGiven || tag === ref.tag);
}

/** `berth images`, and `berth image ls` (alias list) when registered under `image`. */
export function register(parent: Command, env: CommandEnv, name = "images"): void {
  const cmd = parent.command(name);
  if (name === "ls") cmd.alias("list");
  cmd
    .description("list images")
    .argument("[repository]", "only images with this name (REPOSITORY[:TAG], * wildcards)")
    .option("-a, --all", "show all images (by default intermediate images are hidden: no name, and another image builds on them)")
    .option("-q, --quiet", "only the image IDs")
    .option("--digests", "show the manifest digests")
    .option("--no-trunc", "do not truncate the image IDs")
    .option("--format <format>", "table, json, or a template such as {{.Repository}}:{{.Tag}}")
    .action((repository: string | undefined, opts: Options) => {
      const all = imageStore(env).list();
      const images = opts.all ? all : all.filter((i) => !intermediate(i, all));
      const out = env.cli.stdout;
      const r = rows(images, opts, repository);
      if (opts.quiet) {
        for (const id of new Set(r.map((x) => x.ID))) out.write(`${id}\n`);
        return;
      }
      const header: Record<string, string> = opts.digests
        ? { Repository: "REPOSITORY", Tag: "TAG", Digest: "DIGEST", ID: "IMAGE ID", CreatedSince: "CREATED", Size: "SIZE" }
        : { Repository: "REPOSITORY", Tag: "TAG", ID: "IMAGE ID", CreatedSince: "CREATED", Size: "SIZE" };
      out.write(formatRows(opts.format, header, r));
    });
}
