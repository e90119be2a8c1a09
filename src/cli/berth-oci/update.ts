// update: change the resources of a running container, from flags or a resources.json.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { invalidArgument } from "../../errors.js";
import type { LinuxResources } from "../../oci/runtime-spec.js";
import { update } from "../../runtime/index.js";
import { type CommandEnv, runtimeContext } from "./globals.js";

interface UpdateFlags {
  resources?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  cpuShares?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  pidsLimit?: string;
}

export function register(program: Command, env: CommandEnv): void {
  program
    .command("update")
    .description("update a container's resource limits")
    .argument("<container-id>")
    .option("-r, --resources <file>", "a JSON file with linux.resources (- for stdin)")
    .option("--memory <bytes>", "memory limit")
    .option("--memory-reservation <bytes>", "memory soft limit")
    .option("--memory-swap <bytes>", "memory + swap limit")
    .option("--cpu-shares <n>", "CPU shares")
    .option("--cpu-quota <us>", "CPU CFS quota")
    .option("--cpu-period <us>", "CPU CFS period")
    .option("--cpuset-cpus <list>", "CPUs allowed")
    .option("--cpuset-mems <list>", "memory nodes allowed")
    .option("--pids-limit <n>", "maximum number of pids")
    .action((id: string, opts: UpdateFlags) => {
      update(runtimeContext(program, env.cli.cwd, env.cli.stderr, env.cli.env), id, resourcesFrom(opts, env.cli.cwd));
    });
}

function resourcesFrom(opts: UpdateFlags, cwd: string): LinuxResources {
  let r: LinuxResources = {};
  if (opts.resources) {
    const file = opts.resources === "-" ? "/dev/stdin" : path.resolve(cwd, opts.resources);
    try {
      r = JSON.parse(readFileSync(file, "utf8")) as LinuxResources;
    } catch (e) {
      throw invalidArgument(`--resources ${opts.resources}: ${(e as Error).message}`);
    }
  }
  const num = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^-?\d+$/.test(v)) throw invalidArgument(`${flag} "${v}": expected an integer`);
    return Number(v);
  };
  const memory = { ...r.memory };
  const m = num(opts.memory, "--memory");
  if (m !== undefined) memory.limit = m;
  const mr = num(opts.memoryReservation, "--memory-reservation");
  if (mr !== undefined) memory.reservation = mr;
  const ms = num(opts.memorySwap, "--memory-swap");
  if (ms !== undefined) memory.swap = ms;
  if (Object.keys(memory).length) r.memory = memory;
  const cpu = { ...r.cpu };
  const shares = num(opts.cpuShares, "--cpu-shares");
  if (shares !== undefined) cpu.shares = shares;
  const quota = num(opts.cpuQuota, "--cpu-quota");
  if (quota !== undefined) cpu.quota = quota;
  const period = num(opts.cpuPeriod, "--cpu-period");
  if (period !== undefined) cpu.period = period;
  if (opts.cpusetCpus) cpu.cpus = opts.cpusetCpus;
  if (opts.cpusetMems) cpu.mems = opts.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  const pids = num(opts.pidsLimit, "--pids-limit");
  if (pids !== undefined) r.pids = { limit: pids };
  return r;
}
