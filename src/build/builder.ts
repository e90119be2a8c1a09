// `berth build`: a Dockerfile and a context become an image. Stages are built in order (only
// those the target needs); each instruction is a step whose result is the image state so far
// (config + layers). Steps that touch files (RUN, COPY, ADD, WORKDIR of a missing directory)
// work in a temporary writable snapshot on top of the state's layers, mounted under the
// runroot; its changes become a layer, unpacked as the next snapshot of the chain. Every step
// is looked up in the cache first. The temporary snapshot, mount and container go whatever
// happens; the final image enters the store under its tags.
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { BerthError, failedPrecondition, invalidArgument, notFound } from "../errors.js";
import { MediaType, chainIds, hostPlatform, parseManifestOrIndex, type ContainerConfig, type Descriptor, type History, type ImageConfig, type ImageManifest } from "../oci/index.js";
import { applyLayer, parseReference, storeLayer, type Image } from "../image/index.js";
import type { EngineContext } from "../engine/context.js";
import { isMounted, unmount } from "../engine/containers/start.js";
import { userChanges } from "../engine/containers/diff.js";
import { resolveUser } from "../engine/spec.js";
import { remove as runtimeRemove } from "../runtime/index.js";
import { isRootless, processAlive } from "../sys/index.js";
import { BuildCache, cacheMountsDir, type CachedStep } from "./cache.js";
import { checksumSources, findSources, openContextDir, openContextTar, resolveInside, type BuildContext, type Source } from "./context.js";
import { copyInto, isDirInside, mkdirInside, placeSources, type CopyOwner } from "./copy.js";
import { flag, parseDockerfile, syntaxError, type Dockerfile, type Instruction } from "./dockerfile.js";
import { expandWord, expandWords, keyValues, splitWords } from "./expand.js";
import { withLock } from "../image/lock.js";
import { archiveKind, archiveStream, type ArchiveKind } from "./archive.js";
import { runStep, type StepMount } from "./run.js";
import { missingStubs, mountFroms, parseRunMount, removeStubs, type RunMount } from "./run-mounts.js";

export interface BuildOptions {
  /** the context: a directory, or a tar stream (`-`) */
  context: string | Readable;
  /** the Dockerfile's path (default: Dockerfile in the context directory) */
  dockerfile?: string;
  /** the Dockerfile's text, when it does not come from a file */
  dockerfileText?: string;
  tags?: string[];
  /** --build-arg NAME=VALUE */
  buildArgs?: Record<string, string>;
  /** --label: on the final image */
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  /** RUN's network: default (the default bridge network as root, as Docker's; none unprivileged), none or host */
  network?: "default" | "none" | "host";
  onEvent?: (e: BuildEvent) => void;
  /** cancels the build: the running step's container is killed, and everything temporary goes */
  signal?: AbortSignal;
  /** fetches a base image into the store (the CLI pulls it from its registry); without it, bases must be here */
  pullBase?: (ref: string) => Promise<void>;
  /** --pull: fetch every base image even when the store has it */
  pull?: boolean;
}

export type BuildEvent =
  | { kind: "step"; n: number; name: string; text: string }
  | { kind: "cached"; n: number }
  | { kind: "output"; n: number; stream: "stdout" | "stderr"; data: Buffer }
  | { kind: "done"; n: number; seconds: number }
  | { kind: "failed"; n: number; seconds: number; message: string }
  | { kind: "warning"; message: string };

export interface BuildResult {
  id: string;
  names: string[];
  /** how many steps ran, and how many came from the cache */
  ran: number;
  cached: number;
}

/** An image as a build carries it between steps. */
interface State {
  config: ImageConfig;
  layers: Descriptor[];
}

const PROXY_ARGS = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];
const DEFAULT_SHELL = ["/bin/sh", "-c"];

interface Stage {
  index: number;
  name?: string;
  from: Instruction;
  body: Instruction[];
}

function platformArgs(): Map<string, string> {
  const p = hostPlatform();
  const plat = `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
  return new Map([
    ["BUILDPLATFORM", plat], ["BUILDOS", p.os], ["BUILDARCH", p.architecture], ["BUILDVARIANT", p.variant ?? ""],
    ["TARGETPLATFORM", plat], ["TARGETOS", p.os], ["TARGETARCH", p.architecture], ["TARGETVARIANT", p.variant ?? ""],
  ]);
}

/** Docker's duration strings (1m30s, 5s, 300ms) in nanoseconds. */
function duration(v: string, what: string): number {
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  const unit: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let used = 0;
  for (const m of v.matchAll(re)) {
    total += Number(m[1]) * unit[m[2]!]!;
    used += m[0].length;
  }
  if (used !== v.length || v === "") throw invalidArgument(`${what}=${v}: expected a duration such as 30s or 1m30s`);
  return Math.round(total);
}

/** KEY=VALUE set in an env list, in place of an earlier value of KEY (its position kept). */
function setEnv(env: string[], key: string, value: string): string[] {
  const out = env.filter((e) => e.split("=")[0] !== key);
  const i = env.findIndex((e) => e.split("=")[0] === key);
  if (i >= 0) out.splice(i, 0, `${key}=${value}`);
  else out.push(`${key}=${value}`);
  return out;
}

export class Builder {
  private readonly cache: BuildCache;
  private n = 0;
  private ran = 0;
  private hits = 0;
  private readonly usedArgs = new Set<string>();
  private readonly stageResults = new Map<number, State>();
  /** base images pulled in this build (each once) */
  private readonly pulled = new Set<string>();
  private readonly emit: (e: BuildEvent) => void;
  private context!: BuildContext;
  private file!: Dockerfile;

  constructor(
    private readonly ctx: EngineContext,
    private readonly opts: BuildOptions,
  ) {
    this.cache = new BuildCache(ctx.root);
    this.emit = opts.onEvent ?? (() => undefined);
  }

  async build(): Promise<BuildResult> {
    const o = this.opts;
    // names are checked before any work: a bad -t is one line and nothing built
    for (const t of o.tags ?? []) {
      let ref;
      try {
        ref = parseReference(t);
      } catch (e) {
        throw invalidArgument(`-t ${t}: ${(e as Error).message}`);
      }
      if (ref.digest) throw invalidArgument(`-t ${t}: a tag cannot contain a digest`);
    }
    await sweep(this.ctx);
    this.context = typeof o.context === "string" ? openContextDir(o.context) : await openContextTar(o.context);
    try {
      const dfPath = o.dockerfile ?? path.join(this.context.dir, "Dockerfile");
      let text = o.dockerfileText;
      if (text === undefined) {
        try {
          text = fs.readFileSync(dfPath, "utf8");
        } catch {
          throw notFound(`Dockerfile ${dfPath}: no such file`, "name it with -f");
        }
      }
      this.file = parseDockerfile(text, o.dockerfileText !== undefined ? "Dockerfile" : path.basename(dfPath));
      const state = await this.run();
      return state;
    } finally {
      this.context.close();
    }
  }

  /** Runs `f`, naming the file and the instruction's line in an error that does not yet. */
  private at<T>(i: Instruction, f: () => T): T {
    try {
      return f();
    } catch (e) {
      if (e instanceof BerthError && !/^[^ ]+:\d+: /.test(e.message)) {
        const prefix = e.message.startsWith(i.keyword) ? "" : `${i.keyword}: `;
        throw new BerthError(e.kind, `${this.file.file}:${i.line}: ${prefix}${e.message}`, { hint: e.hint });
      }
      throw e;
    }
  }

  private err(i: Instruction, message: string): BerthError {
    return syntaxError(this.file.file, i.line, message);
  }

  /** The stages, the global ARGs before the first FROM, and which stages the target needs. */
  private async run(): Promise<BuildResult> {
    const globals: Instruction[] = [];
    const stages: Stage[] = [];
    for (const i of this.file.instructions) {
      if (i.keyword === "FROM") {
        const words = splitWords(i.args, this.file.escape);
        const name = words.length === 3 && words[1]!.toUpperCase() === "AS" ? words[2]!.toLowerCase() : undefined;
        if (words.length !== 1 && !name) throw this.err(i, `FROM ${i.args}: expected FROM [--platform=P] IMAGE [AS NAME]`);
        if (name && !/^[a-z][a-z0-9._-]*$/.test(name)) throw this.err(i, `FROM: invalid stage name ${JSON.stringify(name)}`);
        if (name && stages.some((s) => s.name === name)) throw this.err(i, `FROM: duplicate stage name ${JSON.stringify(name)}`);
        stages.push({ index: stages.length, name, from: i, body: [] });
      } else if (stages.length === 0) {
        if (i.keyword !== "ARG") throw this.err(i, `${i.keyword} before the first FROM (only ARG may come first)`);
        globals.push(i);
      } else stages.at(-1)!.body.push(i);
    }
    if (stages.length === 0) throw invalidArgument(`${this.file.file}: no FROM instruction (a Dockerfile needs at least one stage)`);
    const buildArgs = new Map(Object.entries(this.opts.buildArgs ?? {}));
    // global scope: FROM lines see these (and the platform args)
    const globalScope = platformArgs();
    for (const g of globals) {
      this.at(g, () => {
        for (const [k, v] of keyValues(g.args, globalScope, this.file.escape, "ARG", { allowBare: true })) {
          this.usedArgs.add(k);
          const value = buildArgs.get(k) ?? v;
          if (value !== undefined) globalScope.set(k, value);
          else globalScope.delete(k);
        }
      });
    }
    let target = stages.at(-1)!;
    if (this.opts.target !== undefined) {
      const t = stages.find((s) => s.name === this.opts.target!.toLowerCase());
      if (!t) throw notFound(`--target ${this.opts.target}: no stage of that name in ${this.file.file}`);
      target = t;
    }
    // the stages the target needs: FROM <stage> and COPY --from=<stage>
    const needed = new Set<number>();
    const stageRef = (ref: string, before: number): Stage | undefined => {
      const byName = stages.find((s) => s.name === ref.toLowerCase() && s.index < before);
      if (byName) return byName;
      if (/^\d+$/.test(ref) && Number(ref) < before) return stages[Number(ref)];
      return undefined;
    };
    const need = (s: Stage) => {
      if (needed.has(s.index)) return;
      needed.add(s.index);
      const base = this.at(s.from, () => expandWord(splitWords(s.from.args, this.file.escape)[0]!, globalScope, this.file.escape));
      const dep = stageRef(base, s.index);
      if (dep) need(dep);
      for (const i of s.body) {
        const froms = i.keyword === "COPY" ? [flag(i, "from")] : i.keyword === "RUN" ? mountFroms(i.flags.filter((f) => f.name === "mount").map((f) => f.value)) : [];
        for (const from of froms) {
          const d = from !== undefined ? stageRef(from, s.index) : undefined;
          if (d) need(d);
        }
      }
    };
    need(target);
    let final: State | undefined;
    for (const s of stages) {
      if (!needed.has(s.index)) continue;
      final = await this.buildStage(s, stages, globalScope, buildArgs, stageRef);
      this.stageResults.set(s.index, final);
      if (s === target) break;
    }
    const unused = [...buildArgs.keys()].filter((k) => !this.usedArgs.has(k) && !PROXY_ARGS.includes(k));
    if (unused.length) this.emit({ kind: "warning", message: `one or more build-args [${unused.join(" ")}] were not consumed` });
    return this.commitFinal(final!);
  }

  // ---- a stage --------------------------------------------------------------------

  private async buildStage(stage: Stage, stages: Stage[], globalScope: Map<string, string>, buildArgs: Map<string, string>, stageRef: (ref: string, before: number) => Stage | undefined): Promise<State> {
    const esc = this.file.escape;
    // FROM
    const words = splitWords(stage.from.args, esc);
    const base = expandWord(words[0]!, globalScope, esc);
    const platform = flag(stage.from, "platform");
    if (platform !== undefined) {
      const want = expandWord(platform, globalScope, esc);
      const p = hostPlatform();
      if (want !== `${p.os}/${p.architecture}` && want !== globalScope.get("BUILDPLATFORM")) throw this.err(stage.from, `FROM --platform=${want}: berth builds for this host's platform only (${p.os}/${p.architecture})`);
    }
    const t0 = Date.now();
    let state: State;
    const dep = stageRef(base, stage.index);
    if (dep) state = structuredClone(this.stageResults.get(dep.index)!);
    else if (base === "scratch") {
      const p = hostPlatform();
      state = { config: { architecture: p.architecture, os: p.os, config: {}, rootfs: { type: "layers", diff_ids: [] }, history: [] }, layers: [] };
    } else {
      if (base === "") throw this.err(stage.from, `FROM ${stage.from.args}: the image name is empty after substitution`);
      state = this.stateOf(await this.baseImage(base, stage.from));
    }
    // ONBUILD triggers of the base run first, then are cleared
    const triggers = state.config.config?.OnBuild ?? [];
    if (state.config.config) delete state.config.config.OnBuild;
    const body: Instruction[] = [];
    for (const t of triggers) {
      const parsed = parseDockerfile(t, `ONBUILD of ${base}`).instructions;
      body.push(...parsed.map((p) => ({ ...p, line: stage.from.line })));
    }
    body.push(...stage.body);
    const n = this.step(`[${stage.name ?? `stage-${stage.index}`} 1/${body.length + 1}]`, `FROM ${base}${stage.name ? ` AS ${stage.name}` : ""}`);
    this.done(n, t0);
    const stageTotal = body.length + 1;
    const args = new Map<string, string | undefined>();
    let cmdSet = false;
    let k = 1;
    for (const i of body) {
      k++;
      const vars = new Map<string, string>();
      for (const [a, v] of args) if (v !== undefined) vars.set(a, v);
      for (const e of state.config.config?.Env ?? []) {
        const eq = e.indexOf("=");
        vars.set(e.slice(0, eq), e.slice(eq + 1));
      }
      const stepLabel = `[${stage.name ?? `stage-${stage.index}`} ${k}/${stageTotal}]`;
      try {
        if (i.keyword === "ARG") {
          const pairs = keyValues(i.args, vars, esc, "ARG", { allowBare: true });
          for (const [name, def] of pairs) {
            this.usedArgs.add(name);
            args.set(name, buildArgs.get(name) ?? def ?? globalScope.get(name));
          }
          // ARG is recorded in no history (as Docker's BuildKit) and changes nothing but the scope
          const s = this.step(stepLabel, i.text);
          this.done(s, Date.now());
          continue;
        }
        if (i.keyword === "CMD") cmdSet = true;
        if (i.keyword === "ENTRYPOINT" && !cmdSet && state.config.config) delete state.config.config.Cmd;
        state = await this.instruction(i, state, vars, args, buildArgs, stepLabel, stages, stageRef, stage);
      } catch (e) {
        if (e instanceof BerthError && !/^[^ ]+:\d+: /.test(e.message)) {
          const prefix = e.message.startsWith(i.keyword) ? "" : `${i.keyword}: `;
          throw new BerthError(e.kind, `${this.file.file}:${i.line}: ${prefix}${e.message}`, { hint: e.hint });
        }
        throw e;
      }
    }
    return state;
  }

  /** A FROM image: from the store, pulled when missing (or always, with --pull) when the caller can pull. */
  private async baseImage(base: string, from: Instruction): Promise<Image> {
    const pull = this.opts.pullBase;
    const pullOnce = async () => {
      this.pulled.add(base);
      try {
        await pull!(base);
      } catch (e) {
        if (e instanceof BerthError && /^[^ ]+:\d+: /.test(e.message)) throw e;
        // a failed pull (the registry refused, a connection failed) names the line it was for
        const kind = e instanceof BerthError ? e.kind : "Unavailable";
        throw new BerthError(kind, `${this.file.file}:${from.line}: FROM ${base}: ${(e as Error).message}`, { hint: e instanceof BerthError ? e.hint : undefined });
      }
    };
    if (pull && this.opts.pull && !this.pulled.has(base)) await pullOnce();
    try {
      return this.ctx.images.resolve(base);
    } catch (e) {
      if (!(e instanceof BerthError && e.kind === "NotFound")) throw e;
    }
    if (pull && !this.pulled.has(base)) {
      await pullOnce();
      return this.ctx.images.resolve(base);
    }
    throw notFound(`${this.file.file}:${from.line}: FROM ${base}: no such image here`, "berth pull, bootstrap, load or import it first");
  }

  private stateOf(image: Image): State {
    const doc = parseManifestOrIndex(this.ctx.images.content.read(image.manifest.digest), `manifest ${image.manifest.digest}`, image.manifest.mediaType);
    if (doc.kind !== "manifest") throw failedPrecondition(`image ${image.id}: not a manifest`);
    return { config: structuredClone(image.config), layers: doc.manifest.layers };
  }

  private step(name: string, text: string): number {
    if (this.opts.signal?.aborted) throw failedPrecondition("build cancelled");
    const n = ++this.n;
    this.emit({ kind: "step", n, name, text });
    return n;
  }

  private done(n: number, t0: number): void {
    this.emit({ kind: "done", n, seconds: (Date.now() - t0) / 1000 });
  }

  // ---- one instruction ------------------------------------------------------------

  private async instruction(
    i: Instruction,
    state: State,
    vars: Map<string, string>,
    args: Map<string, string | undefined>,
    buildArgs: Map<string, string>,
    label: string,
    stages: Stage[],
    stageRef: (ref: string, before: number) => Stage | undefined,
    stage: Stage,
  ): Promise<State> {
    const esc = this.file.escape;
    const c: ContainerConfig = structuredClone(state.config.config ?? {});
    const shell = c.Shell ?? DEFAULT_SHELL;
    const ex = (s: string) => expandWord(s, vars, esc);
    const command = (): string[] => i.json ?? [...shell, i.args];
    switch (i.keyword) {
      case "CMD":
        c.Cmd = command();
        return this.meta(i, label, state, c, `CMD ${JSON.stringify(c.Cmd)}`);
      case "ENTRYPOINT":
        c.Entrypoint = command();
        return this.meta(i, label, state, c, `ENTRYPOINT ${JSON.stringify(c.Entrypoint)}`);
      case "ENV": {
        let env = c.Env ?? [];
        const pairs = keyValues(i.args, vars, esc, "ENV");
        for (const [key, value] of pairs) env = setEnv(env, key, value ?? "");
        c.Env = env;
        return this.meta(i, label, state, c, `ENV ${pairs.map(([a, b]) => `${a}=${b}`).join(" ")}`);
      }
      case "LABEL": {
        const pairs = keyValues(i.args, vars, esc, "LABEL");
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs.map(([a, b]) => [a, b ?? ""])) };
        return this.meta(i, label, state, c, `LABEL ${pairs.map(([a, b]) => `${a}=${b}`).join(" ")}`);
      }
      case "MAINTAINER": {
        const next = this.meta(i, label, state, c, `MAINTAINER ${i.args}`);
        next.config.author = i.args;
        return next;
      }
      case "EXPOSE": {
        const ports = expandWords(i.args, vars, esc);
        for (const p of ports) {
          const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) throw invalidArgument(`EXPOSE ${p}: expected PORT[-PORT][/tcp|udp|sctp]`);
          const proto = (m[3] ?? "tcp").toLowerCase();
          const lo = Number(m[1]);
          const hi = m[2] ? Number(m[2]) : lo;
          if (hi < lo || hi > 65535) throw invalidArgument(`EXPOSE ${p}: invalid port range`);
          for (let port = lo; port <= hi; port++) c.ExposedPorts = { ...(c.ExposedPorts ?? {}), [`${port}/${proto}`]: {} };
        }
        return this.meta(i, label, state, c, `EXPOSE map[${ports.join(" ")}]`);
      }
      case "VOLUME": {
        const vols = i.json ?? expandWords(i.args, vars, esc);
        if (vols.length === 0 || vols.some((v) => v.trim() === "")) throw invalidArgument("VOLUME specified can not be an empty string");
        for (const v of vols) c.Volumes = { ...(c.Volumes ?? {}), [v]: {} };
        return this.meta(i, label, state, c, `VOLUME ${JSON.stringify(vols)}`);
      }
      case "USER": {
        const u = ex(i.args);
        if (u === "") throw invalidArgument("USER requires a user name or ID");
        c.User = u;
        return this.meta(i, label, state, c, `USER ${u}`);
      }
      case "STOPSIGNAL":
        c.StopSignal = ex(i.args);
        return this.meta(i, label, state, c, `STOPSIGNAL ${c.StopSignal}`);
      case "SHELL":
        if (!i.json || i.json.length === 0) throw invalidArgument("SHELL requires the arguments to be in JSON form");
        c.Shell = i.json;
        return this.meta(i, label, state, c, `SHELL ${JSON.stringify(i.json)}`);
      case "ONBUILD": {
        const inner = /^\s*(\S+)/.exec(i.args)?.[1]?.toUpperCase() ?? "";
        if (inner === "ONBUILD" || inner === "FROM" || inner === "MAINTAINER") throw invalidArgument(`ONBUILD ${inner} is not allowed`);
        c.OnBuild = [...(c.OnBuild ?? []), i.args];
        return this.meta(i, label, state, c, `ONBUILD ${i.args}`);
      }
      case "HEALTHCHECK": {
        const words = splitWords(i.args, esc);
        const kind = words[0]?.toUpperCase();
        if (kind === "NONE") {
          if (words.length > 1 || i.flags.length) throw invalidArgument("HEALTHCHECK NONE takes no other arguments");
          c.Healthcheck = { Test: ["NONE"] };
        } else if (kind === "CMD") {
          const rest = i.args.trim().slice(3).trim();
          if (rest === "") throw invalidArgument("HEALTHCHECK CMD needs a command");
          const json = i.json ?? undefined;
          const exec = json ?? (rest.startsWith("[") ? (() => { try { const v = JSON.parse(rest); return Array.isArray(v) ? (v as string[]) : undefined; } catch { return undefined; } })() : undefined);
          const hc: NonNullable<ContainerConfig["Healthcheck"]> = { Test: exec ? ["CMD", ...exec] : ["CMD-SHELL", rest] };
          const f = (n: string) => flag(i, n);
          if (f("interval") !== undefined) hc.Interval = duration(f("interval")!, "--interval");
          if (f("timeout") !== undefined) hc.Timeout = duration(f("timeout")!, "--timeout");
          if (f("start-period") !== undefined) hc.StartPeriod = duration(f("start-period")!, "--start-period");
          if (f("start-interval") !== undefined) (hc as { StartInterval?: number }).StartInterval = duration(f("start-interval")!, "--start-interval");
          if (f("retries") !== undefined) {
            if (!/^\d+$/.test(f("retries")!)) throw invalidArgument(`--retries=${f("retries")}: expected a number`);
            hc.Retries = Number(f("retries"));
          }
          c.Healthcheck = hc;
        } else throw invalidArgument(`HEALTHCHECK ${i.args}: expected CMD or NONE`);
        return this.meta(i, label, state, c, `HEALTHCHECK ${JSON.stringify(c.Healthcheck)}`);
      }
      case "WORKDIR": {
        const w = ex(i.args);
        if (w === "") throw invalidArgument("WORKDIR requires a path");
        c.WorkingDir = path.posix.normalize(w.startsWith("/") ? w : path.posix.join(c.WorkingDir || "/", w));
        return this.fsStep(i, label, state, c, `WORKDIR ${c.WorkingDir}`, [], async (root) => {
          if (isDirInside(root, c.WorkingDir!)) return false;
          mkdirInside(root, c.WorkingDir!, workdirOwner(root, c));
          return true;
        });
      }
      case "RUN":
        return this.runInstruction(i, state, c, vars, args, buildArgs, label, shell, stageRef, stage);
      case "COPY":
      case "ADD":
        return this.copyInstruction(i, state, c, vars, label, stageRef, stage);
      default:
        throw invalidArgument(`unknown instruction: ${i.keyword}`);
    }
  }

  /** A step that changes only the config: no layer, an empty_layer history entry. */
  private meta(i: Instruction, label: string, state: State, c: ContainerConfig, createdBy: string): State {
    const n = this.step(label, i.text);
    const key = BuildCache.key({ parent: this.stateKey(state), step: createdBy, config: c });
    let hit = this.opts.noCache ? undefined : this.cache.get(key);
    if (hit) {
      this.hits++;
      this.emit({ kind: "cached", n });
    } else {
      hit = { created: new Date().toISOString() };
      this.cache.put(key, hit);
      this.done(n, Date.now());
    }
    return this.next(state, c, hit, createdBy);
  }

  private stateKey(state: State): string {
    return BuildCache.key({ config: state.config.config ?? {}, diffIds: state.config.rootfs.diff_ids, author: state.config.author });
  }

  private next(state: State, c: ContainerConfig, step: CachedStep, createdBy: string): State {
    const h: History = { created: step.created, created_by: createdBy, comment: "berth build" };
    if (!step.layer) h.empty_layer = true;
    return {
      config: {
        ...state.config,
        created: step.created,
        config: c,
        rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, ...(step.layer ? [step.layer.diffId] : [])] },
        history: [...(state.config.history ?? []), h],
      },
      layers: [...state.layers, ...(step.layer ? [step.layer.descriptor] : [])],
    };
  }

  /** Whether a cached layer is still usable (blob and snapshot, or at least the blob to unpack). */
  private async usable(state: State, step: CachedStep): Promise<boolean> {
    if (!step.layer) return true;
    const store = this.ctx.images;
    const chain = chainIds([...state.config.rootfs.diff_ids, step.layer.diffId]).at(-1)!;
    if (store.snapshots.has(chain) && store.content.has(step.layer.descriptor.digest)) return true;
    if (!store.content.has(step.layer.descriptor.digest)) return false;
    await this.ensureChain({ ...state, config: { ...state.config, rootfs: { type: "layers", diff_ids: [...state.config.rootfs.diff_ids, step.layer.diffId] } }, layers: [...state.layers, step.layer.descriptor] });
    return true;
  }

  /** Unpacks any layer of the state's chain that has no snapshot (a base image's layers always have). */
  private async ensureChain(state: State): Promise<void> {
    const store = this.ctx.images;
    const chain = chainIds(state.config.rootfs.diff_ids);
    for (let k = 0; k < chain.length; k++) {
      if (store.snapshots.has(chain[k]!)) continue;
      const l = state.layers[k]!;
      if (!store.content.has(l.digest)) throw failedPrecondition(`layer ${l.digest} is no longer in the store`);
      await store.snapshots.unpack(chain[k]!, chain[k - 1], store.content.createReadStream(l.digest) as Readable, state.config.rootfs.diff_ids[k]!);
    }
  }

  /**
   * A step that may change files: looked up in the cache by `extra` (content checksums), else
   * `work` runs on the mounted file system and, when it says so, its changes become a layer.
   */
  private async fsStep(i: Instruction, label: string, state: State, c: ContainerConfig, createdBy: string, extra: unknown[], work: (root: string, n: number) => Promise<boolean>): Promise<State> {
    const n = this.step(label, i.text);
    const t0 = Date.now();
    const key = BuildCache.key({ parent: this.stateKey(state), step: createdBy, config: c, extra });
    const hit = this.opts.noCache ? undefined : this.cache.get(key);
    if (hit && (await this.usable(state, hit))) {
      this.hits++;
      this.emit({ kind: "cached", n });
      return this.next(state, c, hit, createdBy);
    }
    this.ran++;
    let layer: CachedStep["layer"];
    try {
      layer = await this.withRootfs(state, c, (root) => work(root, n));
    } catch (e) {
      this.emit({ kind: "failed", n, seconds: (Date.now() - t0) / 1000, message: (e as Error).message });
      throw e;
    }
    const step: CachedStep = { created: new Date().toISOString(), layer };
    this.cache.put(key, step);
    this.done(n, t0);
    return this.next(state, c, step, createdBy);
  }

  /** A temporary writable snapshot on the state's chain, mounted; its changes as a layer when `work` returns true. */
  private async withRootfs(state: State, c: ContainerConfig, work: (root: string) => Promise<boolean>): Promise<CachedStep["layer"]> {
    const store = this.ctx.images;
    await this.ensureChain(state);
    const chain = chainIds(state.config.rootfs.diff_ids);
    const key = tempName();
    const mnt = path.join(this.ctx.runroot, "build", key);
    fs.mkdirSync(mnt, { recursive: true, mode: 0o700 });
    let prepared = false;
    try {
      store.snapshots.prepare(key, chain.at(-1), { build: "1" });
      prepared = true;
      store.snapshots.mount(key, mnt);
      // WORKDIR is made when missing, as Docker does before RUN, COPY and ADD
      if (c.WorkingDir && c.WorkingDir !== "/" && !isDirInside(mnt, c.WorkingDir)) mkdirInside(mnt, c.WorkingDir, workdirOwner(mnt, c));
      const changed = await work(mnt);
      unmount(mnt);
      if (!changed) return undefined;
      const { layer, diffId } = await storeLayer(store, userChanges(store.snapshots.diff(key), store.snapshots.lowerDirs(key)), () => undefined);
      const next = chainIds([...state.config.rootfs.diff_ids, diffId]).at(-1)!;
      if (!store.snapshots.has(next)) await store.snapshots.unpack(next, chain.at(-1), store.content.createReadStream(layer.digest) as Readable, diffId);
      return { descriptor: layer, diffId };
    } finally {
      if (isMounted(mnt)) unmount(mnt);
      if (prepared) {
        try {
          store.snapshots.removeActive(key);
        } catch (e) {
          this.emit({ kind: "warning", message: `temporary snapshot ${key}: ${(e as Error).message}` });
        }
      }
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  }

  // ---- RUN --------------------------------------------------------------------------

  private async runInstruction(i: Instruction, state: State, c: ContainerConfig, vars: Map<string, string>, args: Map<string, string | undefined>, buildArgs: Map<string, string>, label: string, shell: string[], stageRef: (ref: string, before: number) => Stage | undefined, stage: Stage): Promise<State> {
    let argv: string[];
    if (i.json) argv = i.json;
    // `RUN <<EOF` alone: the body is the script; `RUN cmd <<EOF`: the shell reads the heredoc itself
    else if (i.heredocs.length === 1 && /^<<-?(["']?)[^\s"']+\1$/.test(i.args.trim())) argv = [...shell, i.heredocs[0]!.body];
    else if (i.heredocs.length) argv = [...shell, [i.args, ...i.heredocs.map((h) => h.body + h.name)].join("\n")];
    else argv = [...shell, i.args];
    // the build args in effect: in the environment, in the history and the cache key (Docker's `|N A=b`)
    const declared = [...args].filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
    const proxies = PROXY_ARGS.filter((p) => buildArgs.has(p) && !args.has(p)).map((p) => `${p}=${buildArgs.get(p)}`);
    const network = flag(i, "network") ?? this.opts.network ?? "default";
    if (network !== "none" && network !== "host" && network !== "default") throw invalidArgument(`RUN --network=${network}: expected default, none or host`);
    const mounts = i.flags.filter((f) => f.name === "mount").map((f) => parseRunMount(expandWord(f.value, vars, this.file.escape), c.WorkingDir ?? "/"));
    // what a bind mount shows keys the cache as COPY's sources do; a cache mount's content does not
    const froms = new Map<RunMount, State>();
    const keys: unknown[] = [];
    for (const m of mounts) {
      keys.push(m);
      if (m.type !== "bind") continue;
      if (m.from !== undefined) {
        const from = this.fromState(m.from, stageRef, stage);
        froms.set(m, from);
        keys.push(this.stateKey(from), from.config.rootfs.diff_ids);
      } else {
        keys.push(checksumSources(findSources(this.context.dir, m.source || ".", `RUN --mount source=${m.source || "."}`, { confine: true, ignored: this.context.ignored }), this.context.ignored));
      }
    }
    const createdBy = `RUN ${declared.length ? `|${declared.length} ${declared.join(" ")} ` : ""}${argv.join(" ")}`;
    return this.fsStep(i, label, state, c, createdBy, [network, ...keys], async (root, n) => {
      const cleanups: (() => void)[] = [];
      const stubs = missingStubs(root, mounts.map((m) => m.target));
      try {
        const specMounts: StepMount[] = [];
        for (const m of mounts) specMounts.push(await this.runMount(m, froms.get(m), cleanups));
        const go = () => this.runCommand(root, n, state, c, argv, [...declared, ...proxies], network, specMounts);
        // locked and private caches: one step at a time uses each (across berth processes too)
        const locked = mounts.filter((m) => m.type === "cache" && m.sharing !== "shared").map((m) => this.cacheDir(m));
        const code = await locked.reduce<() => Promise<number>>((inner, dir) => () => withLock(`${dir}.lock`, `build cache ${dir}`, inner, { waitMs: 600_000 }), go)();
        if (this.opts.signal?.aborted) throw failedPrecondition("build cancelled");
        if (code !== 0) throw new BerthError("FailedPrecondition", `RUN ${argv.slice(i.json ? 0 : shell.length).join(" ")}: the command returned a non-zero code: ${code}`);
        return true;
      } finally {
        for (const f of cleanups.reverse()) f();
        removeStubs(stubs);
      }
    });
  }

  private runCommand(root: string, n: number, state: State, c: ContainerConfig, argv: string[], env: string[], network: string, mounts: StepMount[]): Promise<number> {
    return runStep(this.ctx, {
      rootfs: root,
      config: { ...state.config, config: c },
      args: argv,
      env,
      // default: Docker's bridge; unprivileged (no CNI: also root of berth's user namespace), none
      network: network === "host" ? "host" : network === "default" && !isRootless() ? "bridge" : "none",
      mounts,
      signal: this.opts.signal,
      onOutput: (stream, data) => this.emit({ kind: "output", n, stream, data }),
    });
  }

  /** A stage of this build (built before this one) or an image, as `--from=` names it. */
  private fromState(ref: string, stageRef: (ref: string, before: number) => Stage | undefined, stage: Stage): State {
    const dep = stageRef(ref, stage.index);
    if (dep) return this.stageResults.get(dep.index)!;
    let image: Image;
    try {
      image = this.ctx.images.resolve(ref);
    } catch {
      throw notFound(`--from=${ref}: no stage or image of that name`);
    }
    return this.stateOf(image);
  }

  /** A cache mount's directory: one per id, kept in <root>/build-cache from build to build (removing it clears them). */
  private cacheDir(m: RunMount): string {
    return path.join(cacheMountsDir(this.ctx.root), createHash("sha256").update(m.id).digest("hex").slice(0, 32));
  }

  /** The OCI mount for one RUN --mount; what it made for the step goes in `cleanups`. */
  private async runMount(m: RunMount, from: State | undefined, cleanups: (() => void)[]): Promise<StepMount> {
    const what = `RUN --mount target=${m.target}`;
    const bind = (source: string, readonly: boolean) => ({ destination: m.target, type: "bind", source, options: ["rbind", "nosuid", "nodev", ...(readonly ? ["ro"] : ["rw"])] });
    if (m.type === "tmpfs") return { destination: m.target, type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=755", ...(m.size !== undefined ? [`size=${m.size}`] : [])] };
    if (m.type === "cache") {
      const dir = this.cacheDir(m);
      if (!fs.existsSync(dir)) {
        const tmp = `${dir}.${process.pid}.tmp`;
        fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.mkdirSync(tmp);
        fs.chownSync(tmp, m.uid, m.gid);
        fs.chmodSync(tmp, m.mode);
        try {
          fs.renameSync(tmp, dir);
        } catch {
          fs.rmSync(tmp, { recursive: true, force: true }); // another step made it first
        }
      }
      return bind(dir, m.readonly);
    }
    let sourceRoot = this.context.dir;
    if (from) {
      const mounted = await this.mountReadOnly(from);
      cleanups.push(mounted.release);
      sourceRoot = mounted.dir;
      // a stage's or image's files: bound straight from its read-only mount unless writable
      if (m.readonly) {
        const host = resolveInside(sourceRoot, m.source, what, false);
        if (!fs.existsSync(host)) throw notFound(`${what}: ${m.source || "/"} does not exist in ${m.from}`);
        return bind(host, true);
      }
    }
    // the context's (only what .dockerignore lets in), or a writable copy: a throwaway copy
    const copy = fs.mkdtempSync(path.join(tmpdir(), "berth-mount-"));
    cleanups.push(() => fs.rmSync(copy, { recursive: true, force: true }));
    const ignored = from ? () => false : this.context.ignored;
    const found = findSources(sourceRoot, m.source || ".", `${what} source=${m.source || "."}`, { confine: !from, ignored });
    const isDir = fs.statSync(found[0]!.host).isDirectory();
    const placements = placeSources(found, isDir ? "/" : `/${path.basename(found[0]!.host)}`, "/", (p) => isDirInside(copy, p), what, (s) => fs.statSync(s.host).isDirectory());
    copyInto(copy, placements, { keepOwners: !!from, ignored });
    return bind(isDir ? copy : path.join(copy, path.basename(found[0]!.host)), m.readonly);
  }

  // ---- COPY and ADD --------------------------------------------------------------------

  private async copyInstruction(i: Instruction, state: State, c: ContainerConfig, vars: Map<string, string>, label: string, stageRef: (ref: string, before: number) => Stage | undefined, stage: Stage): Promise<State> {
    const esc = this.file.escape;
    const what = i.keyword;
    const words = i.json ?? expandWords(i.args, vars, esc);
    const heredocs = i.heredocs;
    const srcWords = words.slice(0, -1).filter((w) => !heredocs.some((h) => new RegExp(`^<<-?["']?${h.name}["']?$`).test(w)));
    if (words.length < 2 && heredocs.length === 0) throw invalidArgument(`${what} requires at least two arguments: source(s) and destination`);
    const dest = words.at(-1)!;
    const fromRef = what === "COPY" ? flag(i, "from") : undefined;
    const chownArg = flag(i, "chown");
    const chmodArg = flag(i, "chmod");
    let mode: number | undefined;
    if (chmodArg !== undefined) {
      const m = expandWord(chmodArg, vars, esc);
      if (!/^[0-7]{3,4}$/.test(m)) throw invalidArgument(`--chmod=${m}: expected an octal mode such as 755`);
      mode = parseInt(m, 8);
    }
    // where the sources come from: the context, another stage or image (mounted), heredocs, URLs
    const cleanups: (() => void)[] = [];
    try {
      let from: State | undefined;
      if (fromRef !== undefined) from = this.fromState(expandWord(fromRef, vars, esc), stageRef, stage);
      const ignored = fromRef !== undefined ? () => false : this.context.ignored;
      const sources: Source[] = [];
      const extra: unknown[] = [dest, fromRef ?? "", chownArg ?? "", chmodArg ?? ""];
      if (heredocs.length) {
        const dir = fs.mkdtempSync(path.join(tmpdir(), "berth-heredoc-"));
        cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
        for (const h of heredocs) {
          fs.writeFileSync(path.join(dir, h.name), h.expand ? expandWord(h.body.replace(/"/g, "\\\""), vars, esc).replace(/\\"/g, '"') : h.body, { mode: 0o644 });
          sources.push({ host: path.join(dir, h.name), rel: h.name });
        }
      }
      const archives = new Map<Source, ArchiveKind>();
      /** the sources in the file system they come from (the context, or the mounted stage) */
      const find = (root: string, confine: boolean): Source[] => {
        const found: Source[] = [];
        for (const w of srcWords) found.push(...findSources(root, w, `${what} ${w}`, { confine, ignored }));
        return found;
      };
      if (from) {
        // another stage's layers say what it holds: they key the cache, and it is mounted only to copy
        extra.push(this.stateKey(from), from.config.rootfs.diff_ids);
        const createdBy = `${what} ${[...flagWords(i), ...srcWords, dest].join(" ")}`;
        const source = from;
        return await this.fsStep(i, label, state, c, createdBy, extra, async (mnt) => {
          const m = await this.mountReadOnly(source);
          try {
            const found = find(m.dir, false);
            const owner = chownArg !== undefined ? chownOf(mnt, expandWord(chownArg, vars, esc)) : undefined;
            const placements = placeSources(found, dest, c.WorkingDir ?? "/", (p) => isDirInside(mnt, p), `${what} ${srcWords.join(" ")} ${dest}`, (s) => fs.statSync(s.host).isDirectory());
            copyInto(mnt, placements, { owner, keepOwners: true, mode, ignored: () => false });
          } finally {
            m.release();
          }
          return true;
        });
      }
      for (const w of srcWords) {
        if (what === "ADD" && /^https?:\/\//.test(w)) {
          const s = await this.download(w, cleanups, flag(i, "checksum"));
          sources.push(s);
          continue;
        }
        if (flag(i, "checksum") !== undefined) throw invalidArgument(`ADD --checksum: only for an http(s) source, not ${w}`);
        if (what === "ADD" && /^git@|\.git(#.*)?$/.test(w)) throw invalidArgument(`ADD ${w}: git sources are not supported by berth build`);
        for (const s of findSources(this.context.dir, w, `${what} ${w}`, { confine: true, ignored })) {
          sources.push(s);
          const kind = what === "ADD" && fs.statSync(s.host).isFile() ? await archiveKind(s.host) : undefined;
          if (kind) archives.set(s, kind);
        }
      }
      extra.push(checksumSources(sources.map((s) => ({ host: s.host, rel: s.rel })), heredocs.length ? () => false : ignored), [...archives.keys()].map((a) => a.rel));
      const createdBy = `${what} ${[...flagWords(i), ...srcWords, dest].join(" ")}`;
      return await this.fsStep(i, label, state, c, createdBy, extra, async (mnt) => {
        const owner = chownArg !== undefined ? chownOf(mnt, expandWord(chownArg, vars, esc)) : undefined;
        const plain = sources.filter((s) => !archives.has(s));
        const placements = placeSources(plain, dest, c.WorkingDir ?? "/", (p) => isDirInside(mnt, p), `${what} ${srcWords.join(" ")} ${dest}`, (s) => fs.statSync(s.host).isDirectory());
        copyInto(mnt, placements, { owner, keepOwners: false, mode, ignored: heredocs.length ? () => false : ignored });
        for (const [a, kind] of archives) {
          const absDest = dest.startsWith("/") ? dest : path.posix.join(c.WorkingDir || "/", dest);
          const into = mkdirInside(mnt, absDest);
          const { stream, done } = archiveStream(a.host, kind, `ADD ${a.rel}`);
          try {
            await applyLayer(into, stream, { whiteouts: "none" });
          } catch (e) {
            stream.destroy(); // a refused entry stops a decompressing tool too
            await done().catch(() => undefined);
            if (!(e instanceof BerthError)) throw e;
            throw new BerthError(e.kind, `ADD ${a.rel}: ${e.message.replace(/^layer: /, "")}`);
          }
          await done(); // the tool's own complaint (trailing garbage, a bad checksum)
        }
        return true;
      });
    } finally {
      for (const f of cleanups.reverse()) f();
    }
  }

  /** `ADD URL`: the file fetched into a temporary directory (0600, its Last-Modified time). */
  private async download(url: string, cleanups: (() => void)[], checksum?: string): Promise<Source> {
    const dir = fs.mkdtempSync(path.join(tmpdir(), "berth-add-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    let res: Response;
    try {
      res = await fetch(url, { redirect: "follow" });
    } catch (e) {
      throw failedPrecondition(`ADD ${url}: ${(e as Error).message}`);
    }
    if (!res.ok) throw failedPrecondition(`ADD ${url}: ${res.status} ${res.statusText}`);
    const name = decodeURIComponent(new URL(url).pathname.split("/").filter(Boolean).at(-1) ?? "") || "__unnamed__";
    const file = path.join(dir, name);
    const body = Buffer.from(await res.arrayBuffer());
    if (checksum !== undefined) {
      const m = /^(sha256|sha384|sha512):([0-9a-f]+)$/.exec(checksum);
      if (!m) throw invalidArgument(`ADD --checksum=${checksum}: expected sha256:<hex> (or sha384, sha512)`);
      const got = createHash(m[1]!).update(body).digest("hex");
      if (got !== m[2]) throw failedPrecondition(`ADD ${url}: checksum mismatch: expected ${checksum}, got ${m[1]}:${got}`);
    }
    fs.writeFileSync(file, body, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    const lm = res.headers.get("last-modified");
    if (lm && !Number.isNaN(Date.parse(lm))) fs.utimesSync(file, new Date(lm), new Date(lm));
    return { host: file, rel: name };
  }

  /** Another stage's (or image's) file system, mounted for reading. */
  private async mountReadOnly(state: State): Promise<{ dir: string; release: () => void }> {
    const store = this.ctx.images;
    await this.ensureChain(state);
    const chain = chainIds(state.config.rootfs.diff_ids);
    const key = tempName();
    const dir = path.join(this.ctx.runroot, "build", key);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    store.snapshots.prepare(key, chain.at(-1), { build: "1" });
    try {
      store.snapshots.mount(key, dir);
    } catch (e) {
      store.snapshots.removeActive(key);
      fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      dir,
      release: () => {
        unmount(dir);
        try {
          store.snapshots.removeActive(key);
        } catch (e) {
          this.emit({ kind: "warning", message: `temporary snapshot ${key}: ${(e as Error).message}` });
        }
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  // ---- the image ----------------------------------------------------------------------

  private async commitFinal(state: State): Promise<BuildResult> {
    const store = this.ctx.images;
    const config: ImageConfig = structuredClone(state.config);
    if (this.opts.labels && Object.keys(this.opts.labels).length) config.config = { ...(config.config ?? {}), Labels: { ...(config.config?.Labels ?? {}), ...this.opts.labels } };
    config.created = config.created ?? state.config.history?.at(-1)?.created ?? new Date().toISOString();
    await this.ensureChain(state);
    // a rebuild from the cache makes the same image: when its names already point at it, nothing is written
    const configText = JSON.stringify(config);
    const configDigest = `sha256:${createHash("sha256").update(configText).digest("hex")}`;
    const tags = this.opts.tags ?? [];
    const existing = (() => {
      // one listing of the store for every name (resolve() would list it once per name)
      const all = store.list();
      const found = tags.length ? tags.map((t) => all.find((im) => im.names.includes(parseReference(t).toString()))) : [all.find((im) => im.id === configDigest)];
      return found.every((im) => im?.id === configDigest) ? found[0] : undefined;
    })();
    if (existing && store.content.has(existing.manifest.digest)) return { id: existing.id, names: existing.names, ran: this.ran, cached: this.hits };
    const image = await store.withLease(async (keep) => {
      for (const l of state.layers) keep(l.digest);
      const configBlob = store.content.writeBlob(configText);
      keep(configBlob.digest);
      const manifest: ImageManifest = {
        schemaVersion: 2,
        mediaType: MediaType.OCI_MANIFEST,
        config: { mediaType: MediaType.OCI_CONFIG, digest: configBlob.digest, size: configBlob.size },
        layers: state.layers,
      };
      const manifestBlob = store.content.writeBlob(JSON.stringify(manifest));
      keep(manifestBlob.digest);
      return store.add({ mediaType: MediaType.OCI_MANIFEST, digest: manifestBlob.digest, size: manifestBlob.size }, this.opts.tags ?? []);
    });
    return { id: image.id, names: image.names, ran: this.ran, cached: this.hits };
  }
}

const flagWords = (i: Instruction) => i.flags.map((f) => (f.value !== "" ? `--${f.name}=${f.value}` : `--${f.name}`));

/** Temporary snapshots, mounts and containers are named after the berth process that made them. */
export function tempName(): string {
  return `build-${process.pid}-${randomBytes(8).toString("hex")}`;
}

/** What a build killed on the way (SIGKILL, a crash) left: its mounts, active snapshots, containers. */
async function sweep(ctx: EngineContext): Promise<void> {
  const dead = (name: string) => {
    const m = /^build-(\d+)-/.exec(name);
    return m !== null && !processAlive(Number(m[1]));
  };
  const buildDir = path.join(ctx.runroot, "build");
  const runtimeDir = ctx.runtime.root;
  for (const id of fs.existsSync(runtimeDir) ? fs.readdirSync(runtimeDir).filter(dead) : []) {
    try {
      await runtimeRemove(ctx.runtime, id, true);
    } catch {
      // gone meanwhile
    }
  }
  for (const name of fs.existsSync(buildDir) ? fs.readdirSync(buildDir).filter(dead) : []) {
    const p = path.join(buildDir, name);
    if (isMounted(p)) unmount(p);
    if (!isMounted(p)) fs.rmSync(p, { recursive: true, force: true });
  }
  for (const a of ctx.images.snapshots.active().filter((a) => dead(a.key))) {
    try {
      ctx.images.snapshots.removeActive(a.key);
    } catch {
      // still mounted somewhere: the next sweep
    }
  }
}

/** Directories WORKDIR makes belong to the USER in effect, as BuildKit makes them. */
function workdirOwner(root: string, c: ContainerConfig): CopyOwner | undefined {
  if (!c.User) return undefined;
  const u = resolveUser(root, c.User);
  return { uid: u.uid, gid: u.gid };
}

/** --chown=USER[:GROUP] by the image's /etc/passwd and /etc/group; a lone ID is also the group. */
function chownOf(root: string, spec: string): CopyOwner {
  const [u, g] = spec.split(":") as [string, string?];
  if (u === "") throw invalidArgument(`--chown=${spec}: expected USER[:GROUP]`);
  const r = resolveUser(root, spec);
  if (g === undefined && /^\d+$/.test(u)) return { uid: r.uid, gid: r.uid };
  return { uid: r.uid, gid: r.gid };
}

export async function build(ctx: EngineContext, opts: BuildOptions): Promise<BuildResult> {
  return new Builder(ctx, opts).build();
}
