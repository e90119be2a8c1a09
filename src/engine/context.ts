// Where the engine keeps things, and the handles every verb shares.
//   <root>/berth.db                       containers and volumes (db.ts)
//   <root>/image, <root>/snapshots        the image store (src/image)
//   <root>/containers/<id>/<id>-json.log  the container's log
//   <root>/volumes/<name>/_data           a volume's files
//   <runroot>/containers/<id>/            config.json (the bundle), rootfs (the mount), exit.json, hosts, …
//   <runroot>/runtime/<id>/               the OCI runtime's state (src/runtime)
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { cgroupModeFromEnv } from "../cgroups/index.js";
import { ImageStore, type SnapshotterKind } from "../image/index.js";
import type { RuntimeContext } from "../runtime/index.js";
import { EngineDb } from "./db.js";

export interface EngineOptions {
  /** data: default /var/lib/berth as root, else $XDG_DATA_HOME/berth */
  root?: string;
  /** runtime state: default /run/berth as root, else $XDG_RUNTIME_DIR/berth */
  runroot?: string;
  storageDriver?: SnapshotterKind;
  /** non-fatal problems; the library never prints */
  warn?: (message: string) => void;
}

export function defaultRoot(env: Record<string, string | undefined> = process.env): string {
  if (process.getuid?.() === 0) return "/var/lib/berth";
  return path.join(env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), ".local/share"), "berth");
}

export function defaultRunroot(env: Record<string, string | undefined> = process.env): string {
  if (process.getuid?.() === 0) return "/run/berth";
  return path.join(env.XDG_RUNTIME_DIR || path.join(os.tmpdir(), `berth-${process.getuid?.()}`), "berth");
}

/** bin/berth of this installation: dist/src/<dir>/ is three levels below the project. */
/** The cgroup every container and build step of the engine goes under (`/berth/<id>`). */
export const CGROUP_PARENT = "berth";
export const cgroupsPathOf = (id: string): string => `/${CGROUP_PARENT}/${id}`;

export function berthBin(): string {
  return fileURLToPath(new URL("../../../bin/berth", import.meta.url));
}

/** native/build/berth of this installation: the Warm path's front-end (README "Two paths"). */
export function warmFrontEnd(): string {
  return fileURLToPath(new URL("../../../native/build/berth", import.meta.url));
}

/** native/build/berth-pause of this installation: a pod's infra process (src/engine/pods). */
export function pauseBinary(): string {
  return fileURLToPath(new URL("../../../native/build/berth-pause", import.meta.url));
}

/** The warm service's socket, found as the front-end finds it (warm_socket_path in native/berth-runtime.c). */
export function warmSocket(env: Record<string, string | undefined> = process.env): string {
  if (env.BERTH_WARM_SOCKET) return env.BERTH_WARM_SOCKET;
  if (process.getuid?.() === 0) return "/run/berth/warm.sock";
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, "berth", "warm.sock");
  return `/tmp/berth-${process.getuid?.()}/warm.sock`;
}

/**
 * How a monitor reaches the warm service for its exit command, when one is up (a Direct-only
 * user does not get a service started behind their back) and not turned off: the front-end,
 * told the socket when it is not the default one. Undefined: use the Direct path.
 */
function warmCommand(env: Record<string, string | undefined> = process.env): string[] | undefined {
  if (env.BERTH_NO_WARM && env.BERTH_NO_WARM !== "0") return undefined;
  const front = warmFrontEnd();
  const socket = warmSocket(env);
  if (!existsSync(front) || !existsSync(socket)) return undefined;
  return env.BERTH_WARM_SOCKET ? ["/usr/bin/env", `BERTH_WARM_SOCKET=${socket}`, front] : [front];
}

export interface ContainerPaths {
  dataDir: string;
  log: string;
  runDir: string;
  rootfs: string;
  exitFile: string;
  hosts: string;
  hostname: string;
  resolvConf: string;
}

export class EngineContext {
  readonly root: string;
  readonly runroot: string;
  readonly db: EngineDb;
  readonly images: ImageStore;
  readonly runtime: RuntimeContext;
  readonly warn: (message: string) => void;

  constructor(opts: EngineOptions = {}) {
    this.root = path.resolve(opts.root ?? defaultRoot());
    this.runroot = path.resolve(opts.runroot ?? defaultRunroot());
    this.db = new EngineDb(this.root);
    this.images = new ImageStore(this.root, { snapshotter: opts.storageDriver });
    this.warn = opts.warn ?? (() => undefined);
    // BERTH_CGROUP_MODE=v1|v2 as for berth-oci (on a hybrid host, v2 puts containers in the cgroup2 mount)
    this.runtime = { root: path.join(this.runroot, "runtime"), warn: this.warn, cgroupMode: cgroupModeFromEnv(process.env) };
  }

  paths(id: string): ContainerPaths {
    const dataDir = path.join(this.root, "containers", id);
    const runDir = path.join(this.runroot, "containers", id);
    return {
      dataDir,
      log: path.join(dataDir, `${id}-json.log`),
      runDir,
      rootfs: path.join(runDir, "rootfs"),
      exitFile: path.join(runDir, "exit.json"),
      hosts: path.join(runDir, "hosts"),
      hostname: path.join(runDir, "hostname"),
      resolvConf: path.join(runDir, "resolv.conf"),
    };
  }

  volumeDir(name: string): string {
    return path.join(this.root, "volumes", name, "_data");
  }

  /** The exit command the monitor runs: this berth (warm when it can be), on this root, cleaning up after `id`. */
  cleanupCommand(id: string): string[] {
    const args = ["--root", this.root, "--runroot", this.runroot, ...(this.images.snapshots.kind === "copy" ? ["--storage-driver", "copy"] : []), "container", "cleanup", id];
    return [...(warmCommand() ?? [process.execPath, berthBin()]), ...args];
  }

  close(): void {
    this.db.close();
  }
}
