// port: list a container's published ports, or where one private port is published.
import type { Command } from "commander";
import { invalidArgument, notFound } from "../../errors.js";
import { type CommandEnv, engine } from "./globals.js";

export function register(parent: Command, env: CommandEnv): void {
  parent
    .command("port")
    .description("list a container's port mappings")
    .argument("<container>")
    .argument("[private-port]", "PORT[/PROTO]: only where this one is published")
    .action((ref: string, priv: string | undefined) => {
      let maps = engine(env).ports(ref);
      if (priv !== undefined) {
        const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(priv);
        if (!m) throw invalidArgument(`port ${JSON.stringify(priv)}: expected PORT[/tcp|udp]`);
        maps = maps.filter((p) => p.containerPort === Number(m[1]) && p.protocol === (m[2] ?? "tcp"));
        if (!maps.length) throw notFound(`No public port '${m[1]}/${m[2] ?? "tcp"}' published for ${ref}`);
        for (const p of maps) env.cli.stdout.write(`${p.hostIP || "0.0.0.0"}:${p.hostPort}\n`);
        return;
      }
      for (const p of maps) env.cli.stdout.write(`${p.containerPort}/${p.protocol} -> ${p.hostIP || "0.0.0.0"}:${p.hostPort}\n`);
    });
}
