// A container's root filesystem as the file system verbs (cp, diff, export, commit) see it: the
// running container's own mount, or, for a created or stopped one, its snapshot mounted for the
// moment under <runroot>/mounts/ (never under the run dir, which start and cleanup empty). Paths
// inside are resolved as if the root were "/", so no symlink or `..` in the container reaches
// the host. Bind mounts and volumes are reached where the container sees them (their host
// directories), and so are the /etc files berth writes while the container runs; tmpfs mounts
// exist only inside the container and are not.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import path from "node:path";
import { invalidArgument, notFound } from "../../errors.js";
import type { EngineContext } from "../context.js";
import type { ContainerRow } from "../db.js";
import type { HostConfig } from "../options.js";
import { refresh } from "./cleanup.js";
import { lookup } from "./lookup.js";
import { pause, unpause } from "./pause.js";
import { isMounted, unmount } from "./start.js";

/** A host directory or file the container sees at `parts`. */
export interface Mount {
  parts: string[];
  host: string;
  readonly: boolean;
}

export interface Rootfs {
  row: ContainerRow;
  /** the host directory that is the container's "/" */
  dir: string;
  /** deepest first */
  mounts: Mount[];
  /** unmounts what was mounted for this; idempotent */
  release(): void;
}

/**
 * The container `ref`'s root filesystem, mounted. The caller releases it. With `freeze`, a
 * running container is paused until then, so that its processes cannot swap a directory for
 * a symlink between our resolving a path and our using it (as Docker's cp does).
 */
export function openRootfs(ctx: EngineContext, ref: string, opts: { freeze?: boolean } = {}): Rootfs {
  const found = lookup(ctx, ref);
  const row = refresh(ctx, found) ?? found;
  const p = ctx.paths(row.id);
  const split = (d: string) => d.split("/").filter((c) => c !== "" && c !== ".");
  const h = JSON.parse(row.config) as HostConfig;
  const mounts: Mount[] = [];
  for (const b of h.binds) {
    if (b.kind === "bind") mounts.push({ parts: split(b.destination), host: b.source, readonly: b.readonly });
    if (b.kind === "volume") mounts.push({ parts: split(b.destination), host: ctx.volumeDir(b.source), readonly: b.readonly });
  }
  const live = (row.state === "running" || row.state === "paused") && isMounted(p.rootfs);
  if (live) for (const [f, host] of [["etc/hosts", p.hosts], ["etc/hostname", p.hostname], ["etc/resolv.conf", p.resolvConf]] as const) mounts.push({ parts: split(f), host, readonly: false });
  mounts.sort((a, b) => b.parts.length - a.parts.length);
  if (live) {
    const frozen = opts.freeze === true && row.state === "running";
    if (frozen) pause(ctx, row.id);
    let released = false;
    const release = () => {
      if (released || !frozen) return;
      released = true;
      try {
        unpause(ctx, row.id);
      } catch (e) {
        ctx.warn(`container ${row.name}: could not unpause: ${(e as Error).message}`);
      }
    };
    return { row, dir: p.rootfs, mounts, release };
  }
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
    mounts,
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
export function resolveIn(fsr: Pick<Rootfs, "dir" | "mounts">, p: string, followLast: boolean): Resolved {
  const hostOf = (parts: string[]) => hostPath(fsr, parts);
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
    const host = hostOf([...stack, c]);
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
  return { parts: stack, path: hostOf(stack), st: fs.lstatSync(hostOf(stack)) };
}

/** The mount `parts` lies in (the root filesystem's when none). */
export function mountOf(fsr: Pick<Rootfs, "mounts">, parts: string[]): Mount | undefined {
  return fsr.mounts.find((m) => m.parts.length <= parts.length && m.parts.every((c, i) => parts[i] === c));
}

/** Where a resolved container path (no symlinks in `parts`) is on the host. */
export function hostPath(fsr: Pick<Rootfs, "dir" | "mounts">, parts: string[]): string {
  const m = mountOf(fsr, parts);
  return m ? path.join(m.host, ...parts.slice(m.parts.length)) : path.join(fsr.dir, ...parts);
}
