// ps: containers, as docker ps lists them.
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import type { ContainerSummary } from "../../engine/index.js";
import { parseReference } from "../../image/index.js";
import { formatRows, humanAgo, humanSize } from "../render.js";
import { type CommandEnv, engine } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

function matcher(filters: string[], podId: (ref: string) => string): (c: ContainerSummary) => boolean {
  const tests = filters.map((f) => {
    const eq = f.indexOf("=");
    if (eq <= 0) throw invalidArgument(`--filter ${JSON.stringify(f)}: expected KEY=VALUE`);
    const [k, v] = [f.slice(0, eq), f.slice(eq + 1)];
    switch (k) {
      case "status":
        return (c: ContainerSummary) => c.state === v;
      case "name":
        return (c: ContainerSummary) => new RegExp(v).test(c.name);
      case "id":
        return (c: ContainerSummary) => c.id.startsWith(v);
      case "label": {
        const [lk, lv] = v.includes("=") ? [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)] : [v, undefined];
        return (c: ContainerSummary) => lk in c.labels && (lv === undefined || c.labels[lk] === lv);
      }
      case "ancestor":
        return (c: ContainerSummary) => {
          try {
            return c.imageId.slice(7).startsWith(v.replace(/^sha256:/, "")) || parseReference(c.image).toString() === parseReference(v).toString();
          } catch {
            return false;
          }
        };
      case "pod": {
        const id = podId(v);
        return (c: ContainerSummary) => c.pod === id;
      }
      case "exited":
        return (c: ContainerSummary) => c.state === "exited" && String(c.exitCode) === v;
      default:
        throw invalidArgument(`--filter ${k}: expected status, name, id, label, ancestor, exited or pod`);
    }
  });
  return (c) => tests.every((t) => t(c));
}

export function register(parent: Command, env: CommandEnv, name = "ps"): void {
  const cmd = parent.command(name);
  if (name === "ls") cmd.alias("list");
  cmd
    .description("list containers (running ones; -a all)")
    .option("-a, --all", "show all containers, not only running ones")
    .option("-q, --quiet", "only the IDs")
    .option("--no-trunc", "do not truncate")
    .option("-f, --filter <KEY=VALUE>", "status=, name=, id=, label=, ancestor=, exited=, pod= (repeatable)", many, [])
    .option("--format <format>", "table, json, or a template such as {{.ID}} {{.Names}}")
    .option("-s, --size", "show each container's size: its writable layer (virtual: with its image)")
    .option("--pod", "show the pod of each container (a POD column)")
    .action(async (opts: { all?: boolean; quiet?: boolean; trunc?: boolean; filter: string[]; format?: string; size?: boolean; pod?: boolean }) => {
      const match = matcher(opts.filter, (ref) => engine(env).pod(ref).id);
      const all = opts.all || opts.filter.some((f) => f.startsWith("status=") || f.startsWith("exited="));
      const list = engine(env).list({ all }).filter(match);
      const full = opts.trunc === false;
      if (opts.quiet) {
        for (const c of list) env.cli.stdout.write(`${full ? c.id : c.id.slice(0, 12)}\n`);
        return;
      }
      const podNames = new Map(list.some((c) => c.pod) ? engine(env).pods().map((p) => [p.id, p.name]) : []);
      const rows = list.map((c) => ({
        ID: full ? c.id : c.id.slice(0, 12),
        Image: c.image,
        Command: full || c.command.length <= 20 ? JSON.stringify(c.command) : JSON.stringify(c.command.slice(0, 19) + "…"),
        CreatedAt: c.created,
        RunningFor: humanAgo(c.created),
        Status: c.status,
        State: c.state,
        Ports: "",
        Names: c.name,
        Labels: Object.entries(c.labels).map(([k, v]) => `${k}=${v}`).join(","),
        ...(opts.size ? { Size: "" } : {}),
        Pod: c.pod ? c.pod.slice(0, 12) : "",
        PodName: c.pod ? (podNames.get(c.pod) ?? "") : "",
      }));
      if (opts.size) {
        // as docker: "<writable layer> (virtual <with the image>)", decimal units
        const sizes = await Promise.all(list.map((c) => engine(env).size(c.id)));
        rows.forEach((r, i) => (r.Size = `${humanSize(sizes[i]!.rw)} (virtual ${humanSize(sizes[i]!.rootFs)})`));
      }
      const header: Record<string, string> = { ID: "CONTAINER ID", Image: "IMAGE", Command: "COMMAND", RunningFor: "CREATED", Status: "STATUS", Ports: "PORTS", Names: "NAMES" };
      if (opts.size) header.Size = "SIZE";
      if (opts.pod) Object.assign(header, { Pod: "POD ID", PodName: "PODNAME" });
      env.cli.stdout.write(formatRows(opts.format, header, rows));
    });
}
