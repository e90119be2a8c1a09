// export: a container's whole file system as a tar stream (running or not; volumes and other
// mounts are not part of it, as with `docker export`).
import { Readable } from "node:stream";
import { tarTree } from "../../image/index.js";
import type { EngineContext } from "../context.js";
import { openRootfs } from "./rootfs.js";

export function exportFs(ctx: EngineContext, ref: string): Readable {
  const fsr = openRootfs(ctx, ref);
  async function* bytes(): AsyncGenerator<Buffer> {
    try {
      for await (const c of tarTree(fsr.dir, "")) yield c as Buffer;
    } finally {
      fsr.release();
    }
  }
  return Readable.from(bytes(), { objectMode: false });
}
