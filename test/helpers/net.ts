// Helpers for network tests: what `ip link`, `ip netns` and iptables show, to check that a
// test left the host's network as it found it.
import { spawnSync } from "node:child_process";

export function run(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Link names (not their state or counters). */
export function links(): string[] {
  return run("ip", ["-o", "link", "show"]).stdout.split("\n").filter(Boolean).map((l) => l.split(":")[1]!.trim().split("@")[0]!).sort();
}

export function netnses(): string[] {
  return run("ip", ["netns", "list"]).stdout.split("\n").filter(Boolean).map((l) => l.split(" ")[0]!).sort();
}

/**
 * The iptables rules and user chains (IPv4 and IPv6), sorted: tables and built-in chains that
 * merely got loaded are not a change; rules and chains are.
 */
export function firewallRules(): string[] {
  const out: string[] = [];
  for (const cmd of ["iptables-save", "ip6tables-save"]) {
    let table = "";
    for (const l of run(cmd, []).stdout.split("\n")) {
      if (l.startsWith("*")) table = l;
      else if (l.startsWith("-A") || (l.startsWith(":") && !/^:(INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) /.test(l))) out.push(`${cmd} ${table} ${l.replace(/\[\d+:\d+\]/, "")}`);
    }
  }
  return out.sort();
}

/** An unused 10.x /24 for a test network (not on any host route, nor any netns we can see). */
export function freeSubnet(seed: number): string {
  const routes = run("ip", ["-4", "route", "show", "table", "all"]).stdout;
  for (let i = 0; i < 200; i++) {
    const b = 100 + ((seed + i) % 150);
    const cidr = `10.${b}.${(seed * 7 + i) % 250}.0/24`;
    if (!routes.includes(cidr.split(".").slice(0, 3).join(".") + ".")) return cidr;
  }
  throw new Error("no free 10.x /24 found");
}

/**
 * What `now` has that `before` had not: what a test left behind. The host is shared (other
 * berths, other roots, a monitor still cleaning up): what others made or removed meanwhile
 * is not the test's to judge, what it left is.
 */
export function added(now: string[], before: string[]): string[] {
  return now.filter((x) => !before.includes(x));
}
