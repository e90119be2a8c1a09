// The engine's records in an embedded SQLite database (<root>/berth.db): containers and
// volumes. WAL and a busy timeout let several berth processes read and write at once;
// every change is one statement or one transaction, so a crash never leaves half a record.
import Database from "better-sqlite3";
import * as fs from "node:fs";
import path from "node:path";
import { alreadyExists, internal } from "../errors.js";

export type ContainerState = "created" | "running" | "paused" | "exited";

export interface ContainerRow {
  id: string;
  name: string;
  /** the image as the user named it */
  image: string;
  imageId: string;
  created: string;
  /** the options it was created with (ContainerOptions as JSON) */
  config: string;
  state: ContainerState;
  pid: number;
  monitorPid: number;
  monitorStart?: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
}

export interface NetworkRow {
  name: string;
  id: string;
  driver: string;
  subnet: string;
  gateway: string;
  bridge: string;
  internal: number;
  created: string;
  labels: string;
}

export interface PodRow {
  id: string;
  name: string;
  created: string;
  /** the options it was created with (PodConfig as JSON) */
  config: string;
  /** the pause process holding its namespaces; 0 when it does not run */
  infraPid: number;
  infraStart: string | null;
  startedAt: string | null;
}

export interface VolumeRow {
  name: string;
  created: string;
  labels: string;
  /** made for one container (-v /path): removed with it by rm -v */
  anonymous: number;
}

// Each entry moves the schema one version up; PRAGMA user_version says where a database is.
const MIGRATIONS = [
  `CREATE TABLE containers (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     image TEXT NOT NULL,
     image_id TEXT NOT NULL,
     created TEXT NOT NULL,
     config TEXT NOT NULL,
     state TEXT NOT NULL,
     pid INTEGER NOT NULL DEFAULT 0,
     monitor_pid INTEGER NOT NULL DEFAULT 0,
     started_at TEXT,
     finished_at TEXT,
     exit_code INTEGER
   );
   CREATE TABLE volumes (
     name TEXT PRIMARY KEY,
     created TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}',
     anonymous INTEGER NOT NULL DEFAULT 0
   );`,
  // the monitor's start time: with its pid, tells it from a later process that got the pid
  `ALTER TABLE containers ADD COLUMN monitor_start TEXT`,
  // networks: berth writes each one's .conflist under <root>/networks (src/engine/networks.ts)
  `CREATE TABLE networks (
     name TEXT PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     driver TEXT NOT NULL,
     subnet TEXT NOT NULL,
     gateway TEXT NOT NULL,
     bridge TEXT NOT NULL,
     internal INTEGER NOT NULL DEFAULT 0,
     created TEXT NOT NULL,
     labels TEXT NOT NULL DEFAULT '{}'
   );`,
  // pods: their containers name them in their config (src/engine/pods); infra: the pause process
  `CREATE TABLE pods (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     created TEXT NOT NULL,
     config TEXT NOT NULL,
     infra_pid INTEGER NOT NULL DEFAULT 0,
     infra_start TEXT,
     started_at TEXT
   );`,
];

const COLUMNS = "id, name, image, image_id AS imageId, created, config, state, pid, monitor_pid AS monitorPid, monitor_start AS monitorStart, started_at AS startedAt, finished_at AS finishedAt, exit_code AS exitCode";

const POD_COLUMNS = "id, name, created, config, infra_pid AS infraPid, infra_start AS infraStart, started_at AS startedAt";

export class EngineDb {
  private readonly db: Database.Database;

  constructor(root: string) {
    fs.mkdirSync(root, { recursive: true, mode: 0o711 });
    this.db = new Database(path.join(root, "berth.db"), { timeout: 30_000 });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.migrate();
  }

  private migrate(): void {
    // BEGIN IMMEDIATE: two processes opening a new database do not both migrate it
    this.db.transaction(() => {
      const version = this.db.pragma("user_version", { simple: true }) as number;
      if (version > MIGRATIONS.length) throw internal(`berth.db: schema version ${version} is newer than this berth (${MIGRATIONS.length})`);
      for (let v = version; v < MIGRATIONS.length; v++) this.db.exec(MIGRATIONS[v]!);
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }

  close(): void {
    this.db.close();
  }

  // ---- containers ----------------------------------------------------------------

  insertContainer(row: ContainerRow): void {
    try {
      this.db
        .prepare(
          `INSERT INTO containers (id, name, image, image_id, created, config, state, pid, monitor_pid, started_at, finished_at, exit_code)
           VALUES (@id, @name, @image, @imageId, @created, @config, @state, @pid, @monitorPid, @startedAt, @finishedAt, @exitCode)`,
        )
        .run(row);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_UNIQUE") {
        const other = this.containerByName(row.name);
        throw alreadyExists(
          `Conflict. The container name "/${row.name}" is already in use by container "${other?.id ?? "?"}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
      throw e;
    }
  }

  container(id: string): ContainerRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM containers WHERE id = ?`).get(id) as ContainerRow | undefined;
  }

  containerByName(name: string): ContainerRow | undefined {
    return this.db.prepare(`SELECT ${COLUMNS} FROM containers WHERE name = ?`).get(name) as ContainerRow | undefined;
  }

  /** Containers whose ID starts with `prefix`. */
  containersByPrefix(prefix: string): ContainerRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM containers WHERE id >= ? AND id < ? ORDER BY id`).all(prefix, prefix + "g") as ContainerRow[];
  }

  containers(): ContainerRow[] {
    return this.db.prepare(`SELECT ${COLUMNS} FROM containers ORDER BY created DESC, id`).all() as ContainerRow[];
  }

  updateContainer(id: string, change: Partial<Pick<ContainerRow, "state" | "pid" | "monitorPid" | "monitorStart" | "startedAt" | "finishedAt" | "exitCode" | "name" | "config">>): void {
    const cols: Record<string, string> = { state: "state", pid: "pid", monitorPid: "monitor_pid", monitorStart: "monitor_start", startedAt: "started_at", finishedAt: "finished_at", exitCode: "exit_code", name: "name", config: "config" };
    const keys = Object.keys(change).filter((k) => k in cols);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE containers SET ${keys.map((k) => `${cols[k]} = @${k}`).join(", ")} WHERE id = @id`).run({ ...change, id });
  }

  /** Moves a container from one state to another only if it is still in `from`; true when it was. */
  transition(id: string, from: ContainerState[], change: Parameters<EngineDb["updateContainer"]>[1]): boolean {
    return this.db.transaction(() => {
      const row = this.container(id);
      if (!row || !from.includes(row.state)) return false;
      this.updateContainer(id, change);
      return true;
    }).immediate();
  }

  deleteContainer(id: string): void {
    this.db.prepare("DELETE FROM containers WHERE id = ?").run(id);
  }

  // ---- volumes -------------------------------------------------------------------

  insertVolume(row: VolumeRow): void {
    try {
      this.db.prepare("INSERT INTO volumes (name, created, labels, anonymous) VALUES (@name, @created, @labels, @anonymous)").run(row);
    } catch (e) {
      if ((e as { code?: string }).code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw alreadyExists(`volume ${row.name} already exists`);
      throw e;
    }
  }

  volume(name: string): VolumeRow | undefined {
    return this.db.prepare("SELECT name, created, labels, anonymous FROM volumes WHERE name = ?").get(name) as VolumeRow | undefined;
  }

  volumes(): VolumeRow[] {
    return this.db.prepare("SELECT name, created, labels, anonymous FROM volumes ORDER BY name").all() as VolumeRow[];
  }

  deleteVolume(name: string): void {
    this.db.prepare("DELETE FROM volumes WHERE name = ?").run(name);
  }

  // ---- networks ------------------------------------------------------------------

  insertNetwork(row: NetworkRow): void {
    try {
      this.db.prepare("INSERT INTO networks (name, id, driver, subnet, gateway, bridge, internal, created, labels) VALUES (@name, @id, @driver, @subnet, @gateway, @bridge, @internal, @created, @labels)").run(row);
    } catch (e) {
      if (String((e as { code?: string }).code).startsWith("SQLITE_CONSTRAINT")) throw alreadyExists(`network with name ${row.name} already exists`);
      throw e;
    }
  }

  network(name: string): NetworkRow | undefined {
    return this.db.prepare("SELECT * FROM networks WHERE name = ?").get(name) as NetworkRow | undefined;
  }

  networks(): NetworkRow[] {
    return this.db.prepare("SELECT * FROM networks ORDER BY name").all() as NetworkRow[];
  }

  /** A network's subnet and gateway (the default network takes a free subnet again when idle). */
  updateNetworkSubnet(name: string, subnet: string, gateway: string): void {
    this.db.prepare("UPDATE networks SET subnet = ?, gateway = ? WHERE name = ?").run(subnet, gateway, name);
  }

  deleteNetwork(name: string): void {
    this.db.prepare("DELETE FROM networks WHERE name = ?").run(name);
  }

  // ---- pods ----------------------------------------------------------------------

  insertPod(row: PodRow): void {
    try {
      this.db.prepare("INSERT INTO pods (id, name, created, config, infra_pid, infra_start, started_at) VALUES (@id, @name, @created, @config, @infraPid, @infraStart, @startedAt)").run(row);
    } catch (e) {
      if (String((e as { code?: string }).code).startsWith("SQLITE_CONSTRAINT")) throw alreadyExists(`the pod name "${row.name}" is already in use by pod ${this.podByName(row.name)?.id ?? "?"}: remove that pod or choose another name`);
      throw e;
    }
  }

  pod(id: string): PodRow | undefined {
    return this.db.prepare(`SELECT ${POD_COLUMNS} FROM pods WHERE id = ?`).get(id) as PodRow | undefined;
  }

  podByName(name: string): PodRow | undefined {
    return this.db.prepare(`SELECT ${POD_COLUMNS} FROM pods WHERE name = ?`).get(name) as PodRow | undefined;
  }

  pods(): PodRow[] {
    return this.db.prepare(`SELECT ${POD_COLUMNS} FROM pods ORDER BY created DESC, id`).all() as PodRow[];
  }

  updatePod(id: string, change: Partial<Pick<PodRow, "infraPid" | "infraStart" | "startedAt">>): void {
    const cols: Record<string, string> = { infraPid: "infra_pid", infraStart: "infra_start", startedAt: "started_at" };
    const keys = Object.keys(change).filter((k) => k in cols);
    if (keys.length === 0) return;
    this.db.prepare(`UPDATE pods SET ${keys.map((k) => `${cols[k]} = @${k}`).join(", ")} WHERE id = @id`).run({ ...change, id });
  }

  deletePod(id: string): void {
    this.db.prepare("DELETE FROM pods WHERE id = ?").run(id);
  }

  /** Runs `fn` as one write transaction (BEGIN IMMEDIATE): a check and an insert no other process splits. */
  exclusive<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
