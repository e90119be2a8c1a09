// A container's root filesystem as the file system verbs (cp, diff, export, commit) see it: the
// running container's own mount, or, for a created or stopped one, its snapshot mounted for the
// moment under <runroot>/mounts/ (never under the run dir, which start and cleanup empty). Paths
// inside are resolved as if the root were "/", so no symlink or `..` in the container reaches
// the host.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument, notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { isMounted, unmount } from "./start.js";

export interface Rootfs {
  row: ContainerRow;
  /** the host directory that is the container's "/" */
  dir: string;
  /** unmounts what was mounted for this; idempotent */
  release(): void;
}

/** The container `ref`'s root filesystem, mounted. The caller releases it. */
export function openRootfs(ctx: EngineContext, ref: string): Rootfs {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  const own = ctx.paths(row.id).rootfs;
  if ((row.state === "running" || row.state === "paused") && isMounted(own)) return { row, dir: own, release: () => undefined };
  const dir = path.join(ctx.runroot, "mounts", `${row.id}.${randomBytes(4).toString("hex")}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    ctx.images.snapshots.mount(row.id, dir);
  } catch (e) {
    fs.rmdirSync(dir);
    throw e;
  }
  let released = false;
  return {
    row,
    dir,
    release: () => {
      if (released) return;
      released = true;
      unmount(dir);
      if (!isMounted(dir)) fs.rmdirSync(dir);
    },
  };
}

export interface Resolved {
  /** root-relative components, no symlinks among them (but the last when not followed) */
  parts: string[];
  /** the host path */
  path: string;
  /** undefined when the last component does not exist */
  st?: fs.Stats;
}

/**
 * Resolves `p` inside `root` with chroot semantics: absolute symlinks restart at the root, `..`
 * stops there. The last component is followed only with `followLast`; it may be missing, any
 * other may not.
 */
export function resolveIn(root: string, p: string, followLast: boolean): Resolved {
  const stack: string[] = [];
  const todo = p.split("/").reverse();
  let links = 0;
  while (todo.length) {
    const c = todo.pop()!;
    if (c === "" || c === ".") continue;
    if (c === "..") {
      stack.pop();
      continue;
    }
    const host = path.join(root, ...stack, c);
    const st = fs.lstatSync(host, { throwIfNoEntry: false });
    const last = !todo.some((t) => t !== "" && t !== ".");
    if (!st) {
      if (last) return { parts: [...stack, c], path: host };
      throw notFound(`${p}: no such file or directory (at /${[...stack, c].join("/")})`);
    }
    if (st.isSymbolicLink() && (!last || followLast)) {
      if (++links > 40) throw invalidArgument(`${p}: too many levels of symbolic links`);
      const target = fs.readlinkSync(host);
      if (target.startsWith("/")) stack.length = 0;
      todo.push(...target.split("/").reverse());
      continue;
    }
    if (!last && !st.isDirectory()) throw invalidArgument(`${p}: /${[...stack, c].join("/")} is not a directory`);
    stack.push(c);
    if (last) return { parts: stack, path: host, st };
  }
  return { parts: stack, path: path.join(root, ...stack), st: fs.lstatSync(path.join(root, ...stack)) };
}
