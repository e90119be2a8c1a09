// The sizes `ps -s` shows: what the container wrote (its snapshot's changes, regular files
// once per inode and symlinks, as Docker counts them) and that plus its image ("virtual").
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { EngineContext } from "../context.js";
import { lookup } from "./lookup.js";

export interface ContainerSize {
  /** bytes in the container's writable layer */
  rw: number;
  /** rw plus the image's layers */
  rootFs: number;
}

async function changesSize(ctx: EngineContext, id: string): Promise<number> {
  let total = 0;
  const extract = tar.extract();
  extract.on("entry", (header, stream, next) => {
    if (header.type === "file" || header.type === "contiguous-file") total += header.size ?? 0;
    else if (header.type === "symlink") total += Buffer.byteLength(header.linkname ?? "");
    stream.on("end", next);
    stream.resume();
  });
  await pipeline(ctx.images.snapshots.diff(id), extract);
  return total;
}

export async function size(ctx: EngineContext, ref: string): Promise<ContainerSize> {
  const row = lookup(ctx, ref);
  let rw = 0;
  try {
    rw = await changesSize(ctx, row.id);
  } catch {
    // its snapshot is gone (removed meanwhile): nothing written
  }
  let image = 0;
  try {
    image = ctx.images.resolve(row.imageId).size;
  } catch {
    // the image was removed with --force since
  }
  return { rw, rootFs: rw + image };
}
