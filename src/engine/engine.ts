// The engine's public API: `import { Engine } from "berth"`. Containers, volumes and images as
// async functions returning typed records; no daemon, no Node process per container (each has
// a small C monitor), and nothing here prints or touches `process`'s streams (STYLE.md).
import type { ImageStore } from "../image/index.js";
import { EngineContext, type EngineOptions } from "./context.js";
import type { ContainerRow } from "./db.js";
import type { ContainerOptions } from "./options.js";
import { attach, type AttachOptions, type Attachment } from "./containers/attach.js";
import { cleanup, settle } from "./containers/cleanup.js";
import { create } from "./containers/create.js";
import { exec, type ExecOptions } from "./containers/exec.js";
import { inspect } from "./containers/inspect.js";
import { kill } from "./containers/kill.js";
import { list, summary, type ContainerSummary } from "./containers/list.js";
import { logs, type LogEntry, type LogOptions } from "./containers/logs.js";
import { lookup } from "./containers/lookup.js";
import { pause, unpause } from "./containers/pause.js";
import { joinedIds, remove } from "./containers/remove.js";
import { start } from "./containers/start.js";
import { stop } from "./containers/stop.js";
import { wait } from "./containers/wait.js";
import { archiveFrom, archiveTo, copyFrom, copyTo, type CopyOptions } from "./containers/cp.js";
import { diff, type FsChange } from "./containers/diff.js";
import { exportFs } from "./containers/export.js";
import { commit, type CommitOptions } from "./containers/commit.js";
import type { Readable } from "node:stream";
import { createVolume, inspectVolume, listVolumes, pruneVolumes, removeVolume, type Volume } from "./volumes.js";
import { top, type ContainerTop } from "./containers/top.js";
import { stats, statsStream, type ContainerStats, type StatsOptions } from "./containers/stats.js";
import { rename } from "./containers/rename.js";
import { size, type ContainerSize } from "./containers/size.js";
import { createNetwork, getNetwork, listNetworks, networkUsers, pruneNetworks, removeNetwork, type Network, type NetworkCreateOptions, type PortMapping } from "./networks.js";
import { ports } from "./containers/port.js";
import { connect, type ConnectOptions } from "./containers/connect.js";
import { disconnect } from "./containers/disconnect.js";
import { build, pruneBuildCache, type BuildCachePrune, type BuildOptions, type BuildResult } from "../build/index.js";
import { pullImage, pushImage, type PullOptions, type PullResult, type PushOptions, type PushResult } from "../registry/client/index.js";
import { podCreate, type PodCreateOptions } from "./pods/create.js";
import { podStart } from "./pods/start.js";
import { podStop } from "./pods/stop.js";
import { podRemove } from "./pods/remove.js";
import { podInspect, podList } from "./pods/list.js";
import { podLogs, type PodLogEntry } from "./pods/logs.js";
import { podSummary, type PodSummary } from "./pods/record.js";

export class Engine {
  private readonly ctx: EngineContext;

  constructor(opts: EngineOptions = {}) {
    this.ctx = new EngineContext(opts);
  }

  get images(): ImageStore {
    return this.ctx.images;
  }

  get root(): string {
    return this.ctx.root;
  }

  /** Creates a container (not started). */
  async create(options: ContainerOptions): Promise<ContainerSummary> {
    return summary(await create(this.ctx, options));
  }

  async start(ref: string): Promise<ContainerSummary> {
    return summary(await start(this.ctx, ref));
  }

  /** create + start; with `autoRemove` the container goes once it has exited. */
  async run(options: ContainerOptions): Promise<ContainerSummary> {
    const row = await create(this.ctx, options);
    try {
      return summary(await start(this.ctx, row.id));
    } catch (e) {
      if (options.autoRemove) await remove(this.ctx, row.id, { force: true, volumes: true }).catch(() => undefined);
      throw e;
    }
  }

  async stop(ref: string, opts?: { timeout?: number }): Promise<ContainerSummary | undefined> {
    const row = await stop(this.ctx, ref, opts);
    return row && summary(row);
  }

  async restart(ref: string, opts?: { timeout?: number }): Promise<ContainerSummary> {
    await stop(this.ctx, ref, opts);
    return summary(await start(this.ctx, ref));
  }

  kill(ref: string, signal?: string): void {
    kill(this.ctx, ref, signal);
  }

  /** Removes a container; returns its ID. */
  async remove(ref: string, opts?: { force?: boolean; volumes?: boolean }): Promise<string> {
    return remove(this.ctx, ref, opts);
  }

  list(opts?: { all?: boolean }): ContainerSummary[] {
    return list(this.ctx, opts);
  }

  get(ref: string): ContainerSummary {
    return summary(lookup(this.ctx, ref));
  }

  inspect(ref: string): Record<string, unknown> {
    return inspect(this.ctx, ref);
  }

  logs(ref: string, opts?: LogOptions): AsyncGenerator<LogEntry> {
    return logs(this.ctx, ref, opts);
  }

  exec(ref: string, opts: ExecOptions): Promise<{ pid: number; exitCode?: number }> {
    return exec(this.ctx, ref, opts);
  }

  /**
   * The container's output live and input to its terminal or stdin (`berth attach`, `run -it`);
   * with `start`, it is started and attached before its program runs.
   */
  attach(ref: string, opts?: AttachOptions): Promise<Attachment> {
    return attach(this.ctx, ref, opts);
  }

  /** Resolves with the exit code once the container has exited. */
  wait(ref: string, opts?: { signal?: AbortSignal }): Promise<number> {
    return wait(this.ctx, ref, opts);
  }

  pause(ref: string): void {
    pause(this.ctx, ref);
  }

  unpause(ref: string): void {
    unpause(this.ctx, ref);
  }

  /** `cp CONTAINER:SRC DEST`: SRC inside the container to DEST on the host, Docker's rules. */
  copyFrom(ref: string, src: string, dest: string, opts?: CopyOptions): Promise<void> {
    return copyFrom(this.ctx, ref, src, dest, opts);
  }

  /** `cp SRC CONTAINER:DEST`: SRC on the host to DEST inside the container. */
  copyTo(ref: string, src: string, dest: string, opts?: CopyOptions): Promise<void> {
    return copyTo(this.ctx, ref, src, dest, opts);
  }

  /** `cp CONTAINER:SRC -`: SRC inside the container as a tar stream. */
  archiveFrom(ref: string, src: string, opts?: CopyOptions): Readable {
    return archiveFrom(this.ctx, ref, src, opts);
  }

  /** `cp - CONTAINER:DEST`: a tar stream extracted into the directory DEST inside the container. */
  archiveTo(ref: string, dest: string, tar: Readable, opts?: CopyOptions): Promise<void> {
    return archiveTo(this.ctx, ref, dest, tar, opts);
  }

  /** What changed in the container's file system since its image (`docker diff`). */
  diff(ref: string): Promise<FsChange[]> {
    return diff(this.ctx, ref);
  }

  /** The container's whole file system as a tar stream. */
  export(ref: string): Readable {
    return exportFs(this.ctx, ref);
  }

  /** The container's changes as a new image on top of its image; returns the image (its `id` is sha256:…). */
  async commit(ref: string, opts?: CommitOptions): Promise<{ id: string; names: string[] }> {
    const image = await commit(this.ctx, ref, opts);
    return { id: image.id, names: image.names };
  }

  /** What the monitor runs when a container's program has exited. */
  cleanup(id: string): Promise<void> {
    return cleanup(this.ctx, id);
  }

  /** Removes every stopped container; returns their IDs. */
  async prune(): Promise<string[]> {
    const gone: string[] = [];
    // a container whose network others join goes after them: passes until none is left to take
    for (let more = true; more; ) {
      more = false;
      const joined = joinedIds(this.ctx);
      for (const c of list(this.ctx, { all: true })) {
        if (c.state === "running" || c.state === "paused" || joined.has(c.id)) continue;
        gone.push(await remove(this.ctx, c.id, {}));
        more = true;
      }
    }
    return gone;
  }

  /** The container's processes as the host's `ps` shows them (`ps -ef`, or the options given). */
  top(ref: string, psArgs?: string[]): ContainerTop {
    return top(this.ctx, ref, psArgs);
  }

  /** One reading of the container's resource usage (CPU % over `interval`, default 1 s). */
  stats(ref: string, opts?: StatsOptions): Promise<ContainerStats> {
    return stats(this.ctx, ref, opts);
  }

  /** A reading every `interval` (default 1 s) until `signal` aborts or the container is removed. */
  statsStream(ref: string, opts?: StatsOptions): AsyncGenerator<ContainerStats> {
    return statsStream(this.ctx, ref, opts);
  }

  rename(ref: string, newName: string): ContainerSummary {
    return summary(rename(this.ctx, ref, newName));
  }

  /** The container's writable layer size, and that plus its image's (`ps -s`). */
  size(ref: string): Promise<ContainerSize> {
    return size(this.ctx, ref);
  }

  createVolume(name: string, labels?: Record<string, string>): Volume {
    return createVolume(this.ctx, name, labels);
  }

  volumes(): Volume[] {
    return listVolumes(this.ctx);
  }

  volume(name: string): Volume {
    return inspectVolume(this.ctx, name);
  }

  removeVolume(name: string, opts?: { force?: boolean }): void {
    removeVolume(this.ctx, name, opts);
  }

  pruneVolumes(opts?: { all?: boolean }): string[] {
    return pruneVolumes(this.ctx, opts);
  }

  /** The container's published ports (`-p`, `berth port`). */
  ports(ref: string): PortMapping[] {
    return ports(this.ctx, ref);
  }

  /** A bridge network (`network create`); the default network `berth` is made on first use. */
  createNetwork(name: string, opts?: NetworkCreateOptions): Network {
    return createNetwork(this.ctx, name, opts);
  }

  networks(): Promise<Network[]> {
    return listNetworks(this.ctx);
  }

  network(name: string): Network {
    return getNetwork(this.ctx, name);
  }

  /** The containers (by name) on a network. */
  networkContainers(name: string): string[] {
    return networkUsers(this.ctx, getNetwork(this.ctx, name).name);
  }

  removeNetwork(name: string): Promise<void> {
    return removeNetwork(this.ctx, name);
  }

  pruneNetworks(): Promise<string[]> {
    return pruneNetworks(this.ctx);
  }

  /** `network connect`: one more network (interface eth1, …) for a container, at once if it runs. */
  connect(network: string, ref: string, opts?: ConnectOptions): Promise<void> {
    return connect(this.ctx, network, ref, opts);
  }

  /** `network disconnect`: the container leaves the network (its interface goes at once if it runs). */
  disconnect(network: string, ref: string, opts?: { force?: boolean }): Promise<void> {
    return disconnect(this.ctx, network, ref, opts?.force ?? false);
  }

  /** `berth build`: a Dockerfile and its context become an image (each RUN in a real container). */
  build(opts: BuildOptions): Promise<BuildResult> {
    return build(this.ctx, opts);
  }

  /** `builder prune`: every build cache record and RUN --mount=type=cache directory. */
  buildPrune(): Promise<BuildCachePrune> {
    return pruneBuildCache(this.ctx.root);
  }

  /** Pulls an image from its registry into the store (`berth pull`); progress comes as opts.onEvent events. */
  pull(ref: string, opts?: PullOptions): Promise<PullResult> {
    return pullImage(this.ctx.images, ref, opts);
  }

  /** Pushes an image of the store to its registry, or to `dest` (`berth push`). */
  push(source: string, dest?: string, opts?: PushOptions): Promise<PushResult> {
    return pushImage(this.ctx.images, source, dest, opts);
  }

  /** `pod create`: a pod whose containers (`run --pod`) share its namespaces; nothing runs yet. */
  async podCreate(opts: PodCreateOptions = {}): Promise<PodSummary> {
    return podSummary(this.ctx, await podCreate(this.ctx, opts));
  }

  /** Starts the pod's infra (pause process, netns, CNI attachment), then its containers. */
  async podStart(ref: string): Promise<PodSummary> {
    return podSummary(this.ctx, await podStart(this.ctx, ref));
  }

  /** Stops the pod's containers, then its infra. */
  async podStop(ref: string, opts?: { timeout?: number }): Promise<PodSummary> {
    return podSummary(this.ctx, await podStop(this.ctx, ref, opts));
  }

  /** Removes the pod, its containers and its infra; running containers need `force`. Returns its ID. */
  podRemove(ref: string, opts?: { force?: boolean }): Promise<string> {
    return podRemove(this.ctx, ref, opts);
  }

  pods(): PodSummary[] {
    return podList(this.ctx);
  }

  pod(ref: string): PodSummary {
    return podInspect(this.ctx, ref);
  }

  /** The logs of the pod's containers, each entry naming its container. */
  podLogs(ref: string, opts?: LogOptions & { container?: string }): AsyncGenerator<PodLogEntry> {
    return podLogs(this.ctx, ref, opts);
  }

  /** Waits for background cleanups this process started, then closes the database. */
  async close(): Promise<void> {
    await settle();
    this.ctx.close();
  }
}

export type { ContainerOptions, ContainerSummary, ContainerRow, LogEntry, LogOptions, ExecOptions, Volume, EngineOptions };
export type { CopyOptions, FsChange, CommitOptions };
export type { AttachOptions, Attachment };
export type { ContainerTop, ContainerStats, StatsOptions, ContainerSize };
export type { Network, NetworkCreateOptions, PortMapping };
export type { PullOptions, PullResult, PushOptions, PushResult };
export type { PodCreateOptions, PodSummary, PodLogEntry };
