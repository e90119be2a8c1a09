// network: bridge networks run through CNI (create, ls, inspect, rm, prune, connect, disconnect).
import type { Command } from "commander";
import { formatRows } from "../render.js";
import { type CommandEnv, engine } from "./globals.js";

const many = (v: string, all: string[]) => [...all, v];

export function register(program: Command, env: CommandEnv): void {
  const network = program.command("network").description("manage networks");
  network
    .command("create")
    .description("create a network (bridge, or macvlan/ipvlan on a host interface)")
    .argument("<name>")
    .option("--subnet <cidr>", "its IPv4 subnet (default: the next free 10.89.x.0/24)")
    .option("--gateway <ip>", "the bridge's address (default: the subnet's first)")
    .option("--internal", "no outbound NAT nor default route")
    .option("-d, --driver <driver>", "bridge, macvlan or ipvlan", "bridge")
    .option("-o, --opt <KEY=VALUE>", "a driver option: parent=IFACE, macvlan_mode=bridge|private|vepa|passthru, ipvlan_mode=l2|l3|l3s (repeatable)", many, [])
    .option("-l, --label <KEY=VALUE>", "a label (repeatable)", many, [])
    .action((name: string, opts: { subnet?: string; gateway?: string; internal?: boolean; driver: string; label: string[]; opt: string[] }) => {
      const options = Object.fromEntries(opts.opt.map((l) => [l.split("=")[0]!, l.split("=").slice(1).join("=")]));
      const labels = Object.fromEntries(opts.label.map((l) => [l.split("=")[0]!, l.split("=").slice(1).join("=")]));
      const n = engine(env).createNetwork(name, { subnet: opts.subnet, gateway: opts.gateway, internal: opts.internal, driver: opts.driver, options, labels });
      env.cli.stdout.write(`${n.id}\n`);
    });
  network
    .command("ls")
    .alias("list")
    .description("list networks")
    .option("-q, --quiet", "only the names")
    .option("--format <format>", "table, json, or a template such as {{.Name}}")
    .action(async (opts: { quiet?: boolean; format?: string }) => {
      const nets = await engine(env).networks();
      if (opts.quiet) {
        for (const n of nets) env.cli.stdout.write(`${n.name}\n`);
        return;
      }
      const rows = nets.map((n) => ({ ID: n.id.slice(0, 12), Name: n.name, Driver: n.driver, Subnet: n.subnet, Gateway: n.gateway, Bridge: n.bridge, Internal: n.internal, Scope: "local" }));
      env.cli.stdout.write(formatRows(opts.format, { ID: "NETWORK ID", Name: "NAME", Driver: "DRIVER", Subnet: "SUBNET", Scope: "SCOPE" }, rows));
    });
  network
    .command("inspect")
    .description("show networks' details as JSON")
    .argument("<name...>")
    .action((names: string[]) => {
      const out = names.map((name) => {
        const n = engine(env).network(name);
        return {
          Name: n.name,
          Id: n.id,
          Created: n.created,
          Scope: "local",
          Driver: n.driver,
          IPAM: { Driver: "host-local", Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
          Internal: n.internal,
          Containers: engine(env).networkContainers(n.name),
          Options: n.options,
          Labels: n.labels,
          ConfigFile: n.configFile,
        };
      });
      env.cli.stdout.write(JSON.stringify(out, null, 4) + "\n");
    });
  network
    .command("rm")
    .alias("remove")
    .description("remove networks (refused while a container is on one)")
    .argument("<name...>")
    .action(async (names: string[]) => {
      for (const n of names) {
        await engine(env).removeNetwork(n);
        env.cli.stdout.write(`${n}\n`);
      }
    });
  network
    .command("connect")
    .description("connect a container to a network (one more interface)")
    .argument("<network>")
    .argument("<container>")
    .option("--ip <address>", "its IPv4 address on the network")
    .option("--alias <name>", "another name its peers on the network reach it by (repeatable)", many, [])
    .action(async (net: string, ref: string, opts: { ip?: string; alias: string[] }) => {
      await engine(env).connect(net, ref, { ip: opts.ip, aliases: opts.alias });
    });
  network
    .command("disconnect")
    .description("disconnect a container from a network")
    .argument("<network>")
    .argument("<container>")
    .option("-f, --force", "forget the attachment even if its plugins fail to remove it")
    .action(async (net: string, ref: string, opts: { force?: boolean }) => {
      await engine(env).disconnect(net, ref, { force: opts.force });
    });
  network
    .command("prune")
    .description("remove networks no container is on (of the default one, only its bridge)")
    .option("-f, --force", "do not ask (berth never asks here)")
    .action(async () => {
      const gone = await engine(env).pruneNetworks();
      if (gone.length) env.cli.stdout.write(`Deleted Networks:\n${gone.map((g) => `${g}\n`).join("")}`);
    });
}
