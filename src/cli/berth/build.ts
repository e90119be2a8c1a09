// build: an image from a Dockerfile and a context (a directory, or a tar on stdin), like
// docker build. Progress goes to stderr: --progress=plain prints BuildKit's plain lines (step
// numbers, RUN output with its time, step times, CACHED), tty redraws a live view; -q prints
// only the image ID on stdout.
import * as fs from "node:fs";
import { Readable } from "node:stream";
import type { Command } from "commander";
import { invalidArgument, notFound } from "../../errors.js";
import type { BuildEvent } from "../../build/index.js";
import { onCallerSignal } from "../context.js";
import { type CommandEnv, engine, userPath } from "./globals.js";
import { pullWithProgress } from "./pull.js";

interface BuildFlags {
  tag: string[];
  file?: string;
  buildArg: string[];
  label: string[];
  target?: string;
  cache: boolean;
  pull?: boolean;
  iidfile?: string;
  quiet?: boolean;
  progress: string;
  network?: string;
}

const collect = (v: string, all: string[]) => [...all, v];

/** BuildKit's plain progress: `#N [stage k/n] INSTRUCTION`, output lines with their time, `#N DONE 0.3s`. */
function plainRenderer(out: NodeJS.WritableStream): (e: BuildEvent) => void {
  const started = new Map<number, number>();
  const partial = new Map<number, string>();
  const line = (n: number, text: string) => out.write(`#${n} ${((Date.now() - (started.get(n) ?? Date.now())) / 1000).toFixed(3)} ${text}\n`);
  const flush = (n: number) => {
    const rest = partial.get(n);
    if (rest) line(n, rest);
    partial.delete(n);
  };
  return (e) => {
    switch (e.kind) {
      case "step":
        started.set(e.n, Date.now());
        out.write(`#${e.n} ${e.name} ${e.text}\n`);
        break;
      case "output": {
        const text = (partial.get(e.n) ?? "") + e.data.toString("utf8");
        const lines = text.split("\n");
        partial.set(e.n, lines.pop()!);
        for (const l of lines) line(e.n, l);
        break;
      }
      case "cached":
        out.write(`#${e.n} CACHED\n\n`);
        break;
      case "done":
        flush(e.n);
        out.write(`#${e.n} DONE ${e.seconds.toFixed(1)}s\n\n`);
        break;
      case "failed":
        flush(e.n);
        out.write(`#${e.n} ERROR: ${e.message}\n\n`);
        break;
      case "warning":
        out.write(`WARNING: ${e.message}\n`);
        break;
    }
  };
}

/** -q: nothing but warnings, and a failed step's output (kept while it runs) when it fails. */
function quietRenderer(out: NodeJS.WritableStream): (e: BuildEvent) => void {
  const kept = new Map<number, Buffer[]>();
  return (e) => {
    if (e.kind === "output") kept.set(e.n, [...(kept.get(e.n) ?? []), e.data]);
    else if (e.kind === "done" || e.kind === "cached") kept.delete(e.n);
    else if (e.kind === "failed") for (const b of kept.get(e.n) ?? []) out.write(b);
    else if (e.kind === "warning") out.write(`WARNING: ${e.message}\n`);
  };
}

/** --progress=rawjson: the events as JSON lines, for programs (output as UTF-8 text). */
function jsonRenderer(out: NodeJS.WritableStream): (e: BuildEvent) => void {
  return (e) => out.write(JSON.stringify(e.kind === "output" ? { ...e, data: e.data.toString("utf8") } : e) + "\n");
}

/** A live view for a terminal: one line per step with its time, the running step's last output lines under it. */
function ttyRenderer(out: NodeJS.WritableStream): { on: (e: BuildEvent) => void; stop: () => void; pause: () => void; resume: () => void } {
  const t0 = Date.now();
  const steps: { n: number; title: string; state: string; start: number; end?: number; tail: string[] }[] = [];
  const warnings: string[] = [];
  let drawn = 0;
  // a pty nobody sized (script(1) without a terminal) says 0 columns
  const cols = () => Math.max(40, (out as { columns?: number }).columns || 100);
  const cut = (s: string, w: number) => (s.length > w ? s.slice(0, Math.max(1, w - 1)) + "…" : s);
  let paused = false;
  const draw = () => {
    if (paused) return;
    const lines = [`[+] Building ${((Date.now() - t0) / 1000).toFixed(1)}s (${steps.filter((s) => s.state !== "running").length}/${steps.length})`];
    for (const s of steps) {
      const time = s.state === "CACHED" ? "CACHED" : `${(((s.end ?? Date.now()) - s.start) / 1000).toFixed(1)}s`;
      // the title gives way, the time stays
      const w = Math.min(cols() - 10, 70);
      lines.push(cut(` => ${s.state === "ERROR" ? "ERROR " : ""}${s.title}`, w).padEnd(w) + ` ${time}`);
      if (s.state === "running" || s.state === "ERROR") for (const t of (s.tail.at(-1) === "" ? s.tail.slice(0, -1) : s.tail).slice(-6)) lines.push(cut(` => => # ${t}`, cols() - 1));
    }
    out.write((drawn ? `\x1b[${drawn}A` : "") + lines.map((l) => `\x1b[2K${l}\n`).join("") + "\x1b[J");
    drawn = lines.length;
  };
  let timer = setInterval(draw, 200);
  return {
    on: (e) => {
      const s = "n" in e ? steps.find((x) => x.n === e.n) : undefined;
      if (e.kind === "step") steps.push({ n: e.n, title: `${e.name} ${e.text}`, state: "running", start: Date.now(), tail: [] });
      else if (e.kind === "output" && s) {
        const parts = e.data.toString("utf8").split("\n");
        if (s.tail.length) s.tail[s.tail.length - 1] += parts.shift()!;
        s.tail.push(...parts);
        s.tail = s.tail.slice(-20);
      } else if (e.kind === "cached" && s) s.state = "CACHED";
      else if (e.kind === "done" && s) {
        s.state = "done";
        s.end = Date.now();
      } else if (e.kind === "failed" && s) {
        s.state = "ERROR";
        s.end = Date.now();
      } else if (e.kind === "warning") warnings.push(e.message);
      draw();
    },
    pause: () => {
      paused = true;
      clearInterval(timer);
    },
    resume: () => {
      paused = false;
      drawn = 0;
      timer = setInterval(draw, 200);
      draw();
    },
    stop: () => {
      clearInterval(timer);
      paused = false;
      draw();
      for (const w of warnings) out.write(`WARNING: ${w}\n`);
    },
  };
}

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("build")
    .description("build an image from a Dockerfile")
    .argument("<context>", "the build context: a directory, or - for a tar on stdin")
    .option("-t, --tag <name>", "name the image REPOSITORY[:TAG]; repeatable", collect, [] as string[])
    .option("-f, --file <path>", "the Dockerfile (default: CONTEXT/Dockerfile)")
    .option("--build-arg <arg>", "NAME=VALUE (or NAME: its value in this environment); repeatable", collect, [] as string[])
    .option("--label <label>", "KEY=VALUE on the image; repeatable", collect, [] as string[])
    .option("--target <stage>", "build up to this stage")
    .option("--no-cache", "do not use the build cache")
    .option("--pull", "pull every base image, even one the store has (a missing one is always pulled)")
    .option("--iidfile <file>", "write the image ID to this file")
    .option("-q, --quiet", "print only the image ID")
    .option("--progress <mode>", "auto, plain, tty or rawjson (one JSON object per event)", "auto")
    .option("--network <mode>", "RUN's network: none (default) or host")
    .action(async (contextArg: string, o: BuildFlags) => {
      if (!["auto", "plain", "tty", "rawjson"].includes(o.progress)) throw invalidArgument(`--progress ${o.progress}: expected auto, plain, tty or rawjson`);
      if (o.network !== undefined && o.network !== "none" && o.network !== "host") throw invalidArgument(`--network ${o.network}: berth build runs RUN on none or host`);
      const buildArgs: Record<string, string> = {};
      for (const a of o.buildArg) {
        const eq = a.indexOf("=");
        if (eq === 0) throw invalidArgument(`--build-arg ${a}: expected NAME=VALUE`);
        if (eq > 0) buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
        else if (env.cli.env[a] !== undefined) buildArgs[a] = env.cli.env[a]!; // Docker: from the environment, or left out
      }
      const labels: Record<string, string> = {};
      for (const l of o.label) {
        const eq = l.indexOf("=");
        if (eq <= 0) throw invalidArgument(`--label ${l}: expected KEY=VALUE`);
        labels[l.slice(0, eq)] = l.slice(eq + 1);
      }
      let context: string | Readable;
      let dockerfile: string | undefined;
      let dockerfileText: string | undefined;
      if (contextArg === "-") {
        const stdin = env.cli.stdin;
        if (!stdin || (stdin as { isTTY?: boolean }).isTTY) throw invalidArgument("build -: send the context as a tar on stdin");
        context = stdin instanceof Readable ? stdin : Readable.from(stdin);
        // -f names a file inside the tar; an outside one is read here
        if (o.file !== undefined && fs.existsSync(userPath(env, o.file))) dockerfileText = fs.readFileSync(userPath(env, o.file), "utf8");
      } else {
        context = userPath(env, contextArg);
        if (!fs.statSync(context, { throwIfNoEntry: false })?.isDirectory()) throw notFound(`build context ${contextArg}: no such directory`);
        if (o.file !== undefined) dockerfile = o.file === "-" ? undefined : userPath(env, o.file);
        if (o.file === "-") {
          if (!env.cli.stdin) throw invalidArgument("-f -: no stdin to read the Dockerfile from");
          const chunks: Buffer[] = [];
          for await (const c of env.cli.stdin) chunks.push(Buffer.from(c as Buffer));
          dockerfileText = Buffer.concat(chunks).toString("utf8");
        }
      }
      const err = env.cli.stderr as NodeJS.WritableStream & { isTTY?: boolean };
      const tty = !o.quiet && (o.progress === "tty" || (o.progress === "auto" && err.isTTY === true));
      const live = tty ? ttyRenderer(err) : undefined;
      const plain = o.quiet || o.progress === "rawjson" ? undefined : plainRenderer(err);
      const onEvent = o.progress === "rawjson" ? jsonRenderer(err) : live ? live.on : plain ? plain : quietRenderer(err);
      let result;
      // ^C or a kill: the build stops, its container and temporary snapshot go, then berth exits
      const abort = new AbortController();
      const off = onCallerSignal(env.cli, ["SIGINT", "SIGTERM", "SIGHUP"], () => abort.abort());
      try {
        result = await engine(env).build({
          context,
          dockerfile,
          dockerfileText,
          tags: o.tag,
          buildArgs,
          labels,
          target: o.target,
          noCache: !o.cache,
          network: o.network as "none" | "host" | undefined,
          onEvent,
          signal: abort.signal,
          pull: o.pull === true,
          // a base image the store lacks comes from its registry, its progress on stderr as `berth pull` shows it (none with -q)
          pullBase: async (ref) => {
            live?.pause(); // the pull draws its own lines; the live view starts again below them
            try {
              await pullWithProgress(env, ref, { quiet: o.quiet || o.progress === "rawjson" }, err);
            } finally {
              live?.resume();
            }
          },
        });
      } finally {
        off();
        live?.stop();
      }
      if (o.iidfile) {
        const f = userPath(env, o.iidfile);
        const tmp = `${f}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, result.id);
        fs.renameSync(tmp, f);
      }
      if (o.quiet) env.cli.stdout.write(`${result.id}\n`);
      else {
        err.write(`writing image ${result.id} done\n`);
        for (const n of result.names) err.write(`naming to ${n} done\n`);
      }
    });
}
