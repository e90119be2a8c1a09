// Where the engine keeps things, and the handles every verb shares.
//   <root>/berth.db                       containers and volumes (db.ts)
//   <root>/image, <root>/snapshots        the image store (src/image)
//   <root>/containers/<id>/<id>-json.log  the container's log
//   <root>/volumes/<name>/_data           a volume's files
//   <runroot>/containers/<id>/            config.json (the bundle), rootfs (the mount), exit.json, hosts, …
//   <runroot>/runtime/<id>/               the OCI runtime's state (src/runtime)
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
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
export function berthBin(): string {
  return fileURLToPath(new URL("../../../bin/berth", import.meta.url));
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
    this.runtime = { root: path.join(this.runroot, "runtime"), warn: this.warn };
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

  /** The exit command the monitor runs: this berth, on this root, cleaning up after `id`. */
  cleanupCommand(id: string): string[] {
    return [process.execPath, berthBin(), "--root", this.root, "--runroot", this.runroot, ...(this.images.snapshots.kind === "copy" ? ["--storage-driver", "copy"] : []), "container", "cleanup", id];
  }

  close(): void {
    this.db.close();
  }
}
