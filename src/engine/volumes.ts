// Volumes: directories under <root>/volumes that outlive containers. A named volume is made
// on first use; an empty one is filled from the image's content at its mount point when a
// container first starts with it, as Docker does.
import * as fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { conflict, internal, invalidArgument, notFound } from "../errors.js";
import type { EngineContext } from "./context.js";
import type { HostConfig } from "./options.js";
import type { VolumeRow } from "./db.js";

export interface Volume {
  name: string;
  mountpoint: string;
  created: string;
  labels: Record<string, string>;
  anonymous: boolean;
}

function toVolume(ctx: EngineContext, r: VolumeRow): Volume {
  return { name: r.name, mountpoint: ctx.volumeDir(r.name), created: r.created, labels: JSON.parse(r.labels), anonymous: r.anonymous === 1 };
}

/** Makes the volume if it is not there; true when this call made it. */
export function ensureVolume(ctx: EngineContext, name: string, opts: { anonymous?: boolean; labels?: Record<string, string> } = {}): boolean {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) throw invalidArgument(`volume name ${JSON.stringify(name)}: expected letters, digits, '_', '.' and '-'`);
  if (ctx.db.volume(name)) return false;
  fs.mkdirSync(ctx.volumeDir(name), { recursive: true, mode: 0o755 });
  try {
    ctx.db.insertVolume({ name, created: new Date().toISOString(), labels: JSON.stringify(opts.labels ?? {}), anonymous: opts.anonymous ? 1 : 0 });
  } catch (e) {
    if (ctx.db.volume(name)) return false; // made by another process meanwhile
    throw e;
  }
  return true;
}

export function createVolume(ctx: EngineContext, name: string, labels: Record<string, string> = {}): Volume {
  if (!ensureVolume(ctx, name, { labels })) throw conflict(`volume ${name} already exists`);
  return toVolume(ctx, ctx.db.volume(name)!);
}

export function listVolumes(ctx: EngineContext): Volume[] {
  return ctx.db.volumes().map((r) => toVolume(ctx, r));
}

export function inspectVolume(ctx: EngineContext, name: string): Volume {
  const r = ctx.db.volume(name);
  if (!r) throw notFound(`no such volume: ${name}`);
  return toVolume(ctx, r);
}

/** Which containers use a volume. */
export function volumeUsers(ctx: EngineContext, name: string): string[] {
  return ctx.db.containers().filter((c) => (JSON.parse(c.config) as HostConfig).binds.some((b) => b.kind === "volume" && b.source === name)).map((c) => c.name);
}

export function removeVolume(ctx: EngineContext, name: string, opts: { force?: boolean } = {}): void {
  if (!ctx.db.volume(name)) {
    if (opts.force) return;
    throw notFound(`no such volume: ${name}`);
  }
  const users = volumeUsers(ctx, name);
  if (users.length && !opts.force) throw conflict(`remove ${name}: volume is in use by ${users.join(", ")}`);
  ctx.db.deleteVolume(name);
  fs.rmSync(path.dirname(ctx.volumeDir(name)), { recursive: true, force: true });
}

/** Removes volumes no container uses (only anonymous ones unless `all`). */
export function pruneVolumes(ctx: EngineContext, opts: { all?: boolean } = {}): string[] {
  const gone: string[] = [];
  for (const v of ctx.db.volumes()) {
    if (!opts.all && v.anonymous !== 1) continue;
    if (volumeUsers(ctx, v.name).length) continue;
    removeVolume(ctx, v.name, { force: true });
    gone.push(v.name);
  }
  return gone;
}

/** Copies the image's files at `dest` into an empty volume (first use), keeping owners and modes. */
export function fillVolume(ctx: EngineContext, name: string, rootfs: string, dest: string): void {
  const dir = ctx.volumeDir(name);
  if (fs.readdirSync(dir).length > 0) return;
  const marker = path.join(path.dirname(dir), "filled");
  if (fs.existsSync(marker)) return; // emptied on purpose by a container: stays empty
  // the destination inside the image, without following symlinks out of it
  let p = rootfs;
  for (const c of dest.split("/").filter(Boolean)) {
    p = path.join(p, c);
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st || !st.isDirectory()) {
      fs.writeFileSync(marker, "");
      return;
    }
  }
  const r = spawnSync("cp", ["-a", `${p}/.`, dir], { encoding: "utf8" });
  if (r.status !== 0) throw internal(`fill volume ${name} from the image's ${dest}: ${r.stderr.trim()}`);
  const st = fs.statSync(p);
  fs.chownSync(dir, st.uid, st.gid);
  fs.chmodSync(dir, st.mode & 0o7777);
  fs.writeFileSync(marker, "");
}
