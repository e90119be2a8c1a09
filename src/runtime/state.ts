// The state directory of one container under the runtime's --root, and its status.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BerthError, invalidArgument, notFound } from "../errors.js";
import type { ContainerStatus, Spec, State } from "../oci/runtime-spec.js";
import { OCI_VERSION } from "../oci/runtime-spec.js";
import type { CgroupMode } from "../cgroups/index.js";
import { processAlive } from "../sys/index.js";
import { EXEC_FIFO } from "./plan.js";

export const DEFAULT_ROOT = "/run/berth-oci";
const STATE_FILE = "state.json";

/** What berth-oci keeps about a container between invocations. */
export interface ContainerRecord {
  id: string;
  pid: number;
  /** identifies the init across pid reuse */
  initStartTime: string;
  bundle: string;
  rootfs: string;
  created: string;
  annotations?: Record<string, string>;
  /** the config the container was created from, so delete works after the bundle is gone */
  config: Spec;
  cgroupsPath?: string;
  /** the cgroup driver the container was created with (absent in older records: detected) */
  cgroupMode?: CgroupMode;
  /** a rootless container that got no cgroup (none delegated): its cgroup operations do nothing */
  noCgroup?: boolean;
  /** a stopped container was paused when it was last seen; filled by pause/resume */
  owner?: string;
}

export function validateId(id: string): void {
  if (!/^[\w+\-.]+$/.test(id) || id === "." || id === "..") {
    throw invalidArgument(`container id "${id}": expected letters, digits, '_', '+', '-' and '.'`);
  }
}

export class StateDir {
  readonly dir: string;

  constructor(
    readonly root: string,
    readonly id: string,
  ) {
    validateId(id);
    this.dir = path.join(root, id);
  }

  exists(): boolean {
    return existsSync(this.dir);
  }

  /** Claims the id: fails when another container has it. */
  claim(): void {
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(this.dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") {
        throw new BerthError("AlreadyExists", `container "${this.id}" already exists`);
      }
      throw e;
    }
  }

  get fifo(): string {
    return path.join(this.dir, EXEC_FIFO);
  }

  write(record: ContainerRecord): void {
    const tmp = path.join(this.dir, `.${STATE_FILE}.${process.pid}`);
    writeFileSync(tmp, JSON.stringify(record));
    renameSync(tmp, path.join(this.dir, STATE_FILE));
  }

  /** The record, or undefined while the container is still being created. */
  readRecord(): ContainerRecord | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir, STATE_FILE), "utf8")) as ContainerRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") {
        if (!this.exists()) throw notFound(`container "${this.id}" does not exist`);
        return undefined;
      }
      throw e;
    }
  }

  load(): ContainerRecord {
    const r = this.readRecord();
    if (!r) throw new BerthError("FailedPrecondition", `container "${this.id}" is still being created`);
    return r;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function statusOf(dir: StateDir, record: ContainerRecord | undefined, isFrozen?: () => boolean): ContainerStatus {
  if (!record) return "creating";
  if (!processAlive(record.pid, record.initStartTime)) return "stopped";
  if (existsSync(dir.fifo)) return "created";
  if (isFrozen?.()) return "paused";
  return "running";
}

export function toState(record: ContainerRecord, status: ContainerStatus): State {
  const s: State = { ociVersion: OCI_VERSION, id: record.id, status, bundle: record.bundle };
  if (status !== "stopped") s.pid = record.pid;
  if (record.annotations && Object.keys(record.annotations).length > 0) s.annotations = record.annotations;
  return s;
}

export function listIds(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
}
