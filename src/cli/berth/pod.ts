// pod: pods as Podman has them (create, start, stop, rm, ps, inspect, logs); containers join
// one with `run --pod`.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import type { PodSummary } from "../../engine/index.js";
import { onCallerSignal } from "../context.js";
import { formatRows, humanAgo } from "../render.js";
import { type CommandEnv, engine } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

/** Runs `fn` for each ref; the first failure is thrown once all were tried, the others printed. */
async function each(env: CommandEnv, refs: string[], fn: (ref: string) => Promise<string>): Promise<void> {
  let first: unknown;
  for (const r of refs) {
    try {
      env.cli.stdout.write(`${await fn(r)}\n`);
    } catch (e) {
      if (first === undefined) first = e;
      else env.cli.stderr.write(`berth: ${(e as Error).message}\n`);
    }
  }
  if (first !== undefined) throw first;
}

function inspectJson(p: PodSummary): Record<string, unknown> {
  return {
    Id: p.id,
    Name: p.name,
    Created: p.created,
    State: p.status,
    Hostname: p.hostname,
    Labels: p.labels,
    SharedNamespaces: p.share,
    InfraPid: p.infraPid,
    Network: p.network,
    PortBindings: p.ports.map((m) => ({ HostIp: m.hostIP, HostPort: String(m.hostPort), ContainerPort: `${m.containerPort}/${m.protocol}` })),
    NumContainers: p.containers.length,
    Containers: p.containers.map((c) => ({ Id: c.id, Name: c.name, State: c.state })),
  };
}

export function register(program: Command, env: CommandEnv): void {
  const pod = program.command("pod").description("manage pods: containers sharing namespaces and one network attachment");
  pod
    .command("create")
    .description("create a pod (its infra starts with its first container, or pod start)")
    .option("--name <name>", "a name for the pod")
    .option("-p, --publish <[ip:]host:container[/proto]>", "publish a port of the pod on the host (repeatable)", many, [])
    .option("--network <mode>", "none, host, or a network's name (default: the default bridge network as root)")
    .option("--share <namespaces>", "the namespaces its containers share: a list of net, ipc, uts, pid", "net,ipc,uts")
    .option("--hostname <name>", "the pod's host name (default: its name)")
    .option("-l, --label <KEY=VALUE>", "a label (repeatable)", many, [])
    .action(async (opts: { name?: string; publish: string[]; network?: string; share: string; hostname?: string; label: string[] }) => {
      const labels = Object.fromEntries(opts.label.map((l) => [l.split("=")[0]!, l.split("=").slice(1).join("=")]));
      const p = await engine(env).podCreate({ name: opts.name, publish: opts.publish, network: opts.network, share: [opts.share], hostname: opts.hostname, labels });
      env.cli.stdout.write(`${p.id}\n`);
    });
  pod
    .command("start")
    .description("start pods: their infra, then their containers")
    .argument("<pod...>", "names or IDs")
    .action((refs: string[]) => each(env, refs, async (r) => (await engine(env).podStart(r)).id));
  pod
    .command("stop")
    .description("stop pods: their containers, then their infra")
    .argument("<pod...>", "names or IDs")
    .option("-t, --time <seconds>", "how long each container's stop waits before SIGKILL")
    .action((refs: string[], opts: { time?: string }) => {
      if (opts.time !== undefined && !/^\d+$/.test(opts.time)) throw invalidArgument(`--time ${JSON.stringify(opts.time)}: expected seconds`);
      return each(env, refs, async (r) => (await engine(env).podStop(r, { timeout: opts.time === undefined ? undefined : Number(opts.time) })).id);
    });
  pod
    .command("rm")
    .alias("remove")
    .description("remove pods and their containers (-f: running ones too)")
    .argument("<pod...>", "names or IDs")
    .option("-f, --force", "stop and remove running containers")
    .action((refs: string[], opts: { force?: boolean }) => each(env, refs, (r) => engine(env).podRemove(r, opts)));
  pod
    .command("ps")
    .alias("ls")
    .alias("list")
    .description("list pods")
    .option("-q, --quiet", "only the IDs")
    .option("--no-trunc", "do not truncate")
    .option("--format <format>", "table, json, or a template such as {{.ID}} {{.Name}}")
    .action((opts: { quiet?: boolean; trunc?: boolean; format?: string }) => {
      const pods = engine(env).pods();
      const full = opts.trunc === false;
      if (opts.quiet) {
        for (const p of pods) env.cli.stdout.write(`${full ? p.id : p.id.slice(0, 12)}\n`);
        return;
      }
      const rows = pods.map((p) => ({
        ID: full ? p.id : p.id.slice(0, 12),
        Name: p.name,
        Status: p.status,
        Created: humanAgo(p.created),
        CreatedAt: p.created,
        InfraPid: p.infraPid,
        NumberOfContainers: p.containers.length,
        Containers: p.containers.map((c) => c.name).join(","),
        Network: p.network,
        Labels: Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(","),
      }));
      env.cli.stdout.write(formatRows(opts.format, { ID: "POD ID", Name: "NAME", Status: "STATUS", Created: "CREATED", NumberOfContainers: "# OF CONTAINERS" }, rows));
    });
  pod
    .command("inspect")
    .description("show pods' details as JSON")
    .argument("<pod...>", "names or IDs")
    .action((refs: string[]) => {
      const out = refs.map((r) => inspectJson(engine(env).pod(r)));
      env.cli.stdout.write(JSON.stringify(out, null, 4) + "\n");
    });
  pod
    .command("logs")
    .description("show the output of a pod's containers, each line after its container's name")
    .argument("<pod>", "name or ID")
    .option("-c, --container <container>", "only this container's")
    .option("-f, --follow", "keep following every container's output until they have all exited")
    .option("-n, --tail <n>", "only the last N lines of each (or all)", "all")
    .option("--since <time>", "only lines since a time (RFC 3339, Unix seconds, or 10m)")
    .option("--until <time>", "only lines before a time")
    .option("-t, --timestamps", "show each line's time")
    .action(async (ref: string, opts: { container?: string; follow?: boolean; tail: string; since?: string; until?: string; timestamps?: boolean }) => {
      if (opts.tail !== "all" && !/^\d+$/.test(opts.tail)) throw invalidArgument(`--tail ${JSON.stringify(opts.tail)}: expected a number or all`);
      const ac = new AbortController();
      const unsubscribe = onCallerSignal(env.cli, ["SIGINT"], () => ac.abort());
      try {
        for await (const e of engine(env).podLogs(ref, { container: opts.container, follow: opts.follow, tail: opts.tail === "all" ? undefined : Number(opts.tail), since: opts.since, until: opts.until, signal: ac.signal })) {
          (e.stream === "stderr" ? env.cli.stderr : env.cli.stdout).write(`${e.container} ${opts.timestamps ? `${e.time} ` : ""}${e.log}`);
        }
      } finally {
        unsubscribe();
      }
    });
}
