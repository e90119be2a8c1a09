// The CNI plugins' shared iptables chains: portmap and firewall make them on first use and
// never remove them. When berth's last attachment is gone, the ones left empty go too, so
// the host's rules are as berth found them. A chain with rules in it (another CNI user's
// containers) stays.
import { spawnSync } from "node:child_process";

const SHARED = [
  // table, chain, the built-in chains that jump to it
  { table: "filter", chain: "CNI-FORWARD", from: ["FORWARD"] },
  { table: "filter", chain: "CNI-ADMIN", from: ["CNI-FORWARD"] },
  { table: "nat", chain: "CNI-HOSTPORT-DNAT", from: ["PREROUTING", "OUTPUT"] },
  { table: "nat", chain: "CNI-HOSTPORT-SETMARK", from: [] },
  { table: "nat", chain: "CNI-HOSTPORT-MASQ", from: ["POSTROUTING"] },
];

function iptables(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, ["-w", "10", ...args], { encoding: "utf8", timeout: 30_000 });
  return { ok: r.status === 0, out: r.stdout ?? "" };
}

/** The rules of a chain as `-S` prints them (without its own -N line); undefined if it is not there. */
function rules(cmd: string, table: string, chain: string): string[] | undefined {
  const r = iptables(cmd, ["-t", table, "-S", chain]);
  if (!r.ok) return undefined;
  return r.out.split("\n").filter((l) => l.startsWith("-A "));
}

/** An -S line's words, "quoted words" as one. */
export function ruleWords(line: string): string[] {
  return [...line.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!));
}

export function dropEmptyChains(): void {
  for (const cmd of ["iptables", "ip6tables"]) {
    // the order matters: CNI-ADMIN is jumped to from CNI-FORWARD
    for (const { table, chain, from } of SHARED) {
      const own = rules(cmd, table, chain);
      if (own === undefined) continue;
      // CNI-FORWARD holds only the jump to CNI-ADMIN when no container is there
      const rest = own.filter((l) => !(chain === "CNI-FORWARD" && l.includes("-j CNI-ADMIN")) && !(chain === "CNI-HOSTPORT-MASQ" && l.includes("--mark")) && !(chain === "CNI-HOSTPORT-SETMARK" && l.includes("--set-xmark")));
      if (rest.length) continue;
      if (chain === "CNI-FORWARD" && (rules(cmd, table, "CNI-ADMIN") ?? []).length) continue;
      for (const f of from) {
        for (const l of rules(cmd, table, f) ?? []) if (l.endsWith(`-j ${chain}`) || l.includes(`-j ${chain} `)) iptables(cmd, ["-t", table, "-D", ...ruleWords(l).slice(1)]);
      }
      iptables(cmd, ["-t", table, "-F", chain]);
      iptables(cmd, ["-t", table, "-X", chain]);
    }
  }
}

const ISOLATION_1 = "BERTH-ISOLATION-1";
const ISOLATION_2 = "BERTH-ISOLATION-2";

/**
 * Networks do not reach each other (Docker's isolation, in two stages): a packet that comes in
 * from one of `bridges` and goes out another one of them is dropped. No bridges: the chains
 * and FORWARD's jump go, and the host's rules are as they were.
 */
export function isolateBridges(bridges: string[]): void {
  const has = (chain: string) => rules("iptables", "filter", chain) !== undefined;
  const jump = () => (rules("iptables", "filter", "FORWARD") ?? []).some((l) => l.includes(`-j ${ISOLATION_1}`));
  if (bridges.length === 0) {
    while (jump()) iptables("iptables", ["-D", "FORWARD", "-j", ISOLATION_1]);
    for (const c of [ISOLATION_1, ISOLATION_2]) if (has(c)) {
      iptables("iptables", ["-F", c]);
      iptables("iptables", ["-X", c]);
    }
    return;
  }
  for (const c of [ISOLATION_1, ISOLATION_2]) {
    if (!has(c)) iptables("iptables", ["-N", c]);
    else iptables("iptables", ["-F", c]);
  }
  for (const b of bridges) {
    iptables("iptables", ["-A", ISOLATION_1, "-i", b, "!", "-o", b, "-j", ISOLATION_2]);
    iptables("iptables", ["-A", ISOLATION_2, "-o", b, "-j", "DROP"]);
  }
  if (!jump()) iptables("iptables", ["-I", "FORWARD", "1", "-j", ISOLATION_1]);
}
