// Firewall housekeeping around the CNI plugins, done with one iptables-save read and one
// iptables-restore --noflush write per address family (each iptables call costs ~9 ms here):
//  - the plugins' shared chains (portmap's and firewall's) are made on first use and never
//    removed; when berth's last attachment is gone, the ones left empty go too, so the host's
//    rules are as berth found them. A chain with rules in it (another CNI user's) stays;
//  - berth's isolation between networks (Docker's, in two stages).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { BerthError } from "../errors.js";

type Family = "iptables" | "ip6tables";

/** table -> its lines (`:CHAIN …` declarations and `-A …` rules), as iptables-save prints them. */
export type Ruleset = Map<string, string[]>;

export function parseSave(text: string): Ruleset {
  const tables: Ruleset = new Map();
  let cur: string[] | undefined;
  for (const l of text.split("\n")) {
    if (l.startsWith("*")) tables.set(l.slice(1), (cur = []));
    else if (cur && (l.startsWith(":") || l.startsWith("-A "))) cur.push(l);
  }
  return tables;
}

function save(family: Family): Ruleset {
  const r = spawnSync(`${family}-save`, [], { encoding: "utf8", timeout: 30_000 });
  return r.status === 0 ? parseSave(r.stdout) : new Map();
}

function restore(family: Family, byTable: Map<string, string[]>): void {
  const text = [...byTable].filter(([, l]) => l.length).map(([t, l]) => `*${t}\n${l.join("\n")}\nCOMMIT\n`).join("");
  if (!text) return;
  const r = spawnSync(`${family}-restore`, ["-w", "10", "--noflush"], { input: text, encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new BerthError("Internal", `${family}-restore: ${(r.stderr || "").trim().split("\n").at(-1)}`);
}

const chainOf = (rule: string) => rule.split(" ")[1]!;
const declared = (lines: string[], chain: string) => lines.some((l) => l.startsWith(`:${chain} `));

/** The plugins' shared chains, in the order they can go, and their own plumbing rules. */
const SHARED: { table: string; chain: string; plumbing: RegExp }[] = [
  { table: "filter", chain: "CNI-FORWARD", plumbing: /-j CNI-ADMIN$/ },
  { table: "filter", chain: "CNI-ADMIN", plumbing: /^$/ },
  { table: "nat", chain: "CNI-HOSTPORT-DNAT", plumbing: /^$/ },
  { table: "nat", chain: "CNI-HOSTPORT-SETMARK", plumbing: /--set-xmark/ },
  { table: "nat", chain: "CNI-HOSTPORT-MASQ", plumbing: /--mark/ },
];

/** What removing the empty shared chains takes, as restore lines by table (pure: unit-tested). */
export function emptyChainRemoval(rs: Ruleset): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const gone = new Set<string>();
  for (const { table, chain, plumbing } of SHARED) {
    const lines = rs.get(table) ?? [];
    if (!declared(lines, chain)) continue;
    const own = lines.filter((l) => l.startsWith("-A ") && chainOf(l) === chain);
    if (own.some((l) => !plumbing.test(l))) continue;
    // CNI-FORWARD's jump to a CNI-ADMIN with rules keeps both
    if (chain === "CNI-FORWARD" && lines.some((l) => l.startsWith("-A CNI-ADMIN "))) continue;
    if (chain === "CNI-ADMIN" && declared(lines, "CNI-FORWARD") && !gone.has("CNI-FORWARD")) continue;
    const ops = out.get(table) ?? [];
    // every jump to it from a chain that stays
    for (const l of lines) if (l.startsWith("-A ") && chainOf(l) !== chain && !gone.has(chainOf(l)) && / -j (\S+)/.exec(l)?.[1] === chain) ops.push(l.replace(/^-A /, "-D "));
    ops.push(`:${chain} - [0:0]`, `-X ${chain}`); // declaring flushes it, then it can go
    out.set(table, ops);
    gone.add(chain);
  }
  return out;
}

export function dropEmptyChains(): void {
  for (const family of ["iptables", "ip6tables"] as const) restore(family, emptyChainRemoval(save(family)));
}

/**
 * What removing the rules the plugins left for `ids` takes (pure: unit-tested): every rule whose
 * comment names one of the containers (`id: "<id>"`, as bridge, portmap and firewall write
 * them), and the chains left empty by that. The bridge plugin's DEL finds its masquerade rules
 * through the container's addresses: a DEL retried after a failure half-way (the link already
 * gone) would leave them for good.
 */
export function containerRulesRemoval(rs: Ruleset, ids: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const mark = (l: string) => ids.some((id) => l.includes(`id: \\"${id}\\"`) || l.includes(`id: "${id}"`));
  for (const [table, lines] of rs) {
    const rules = lines.filter((l) => l.startsWith("-A "));
    const marked = rules.filter(mark);
    if (!marked.length) continue;
    const targets = new Set(marked.map((l) => / -j (\S+)/.exec(l)?.[1]).filter((c): c is string => !!c && declared(lines, c) && lines.some((d) => d.startsWith(`:${c} - `))));
    // a chain goes when its rules are all the containers' and nothing else jumps to it
    const gone = [...targets].filter((c) => rules.every((l) => (chainOf(l) === c || / -j (\S+)/.exec(l)?.[1] === c ? mark(l) : true)));
    const ops = marked.filter((l) => !gone.includes(chainOf(l))).map((l) => l.replace(/^-A /, "-D "));
    for (const c of gone) ops.push(`:${c} - [0:0]`, `-X ${c}`);
    out.set(table, ops);
  }
  return out;
}

export function dropContainerRules(ids: string[]): void {
  restore("iptables", containerRulesRemoval(save("iptables"), ids));
}

const ISOLATION_1 = "BERTH-ISOLATION-1";
const ISOLATION_2 = "BERTH-ISOLATION-2";

/**
 * The filter table's restore lines that make the isolation rules `bridges` need (pure). The
 * chains are shared by every berth root on the host: bridges in them that are not `mine` and
 * still `exist` are another root's, and stay.
 */
export function isolationChanges(filter: string[], inUse: string[], mine: string[] = inUse, exists: (bridge: string) => boolean = () => false): string[] {
  const others = filter.map((l) => new RegExp(`^-A ${ISOLATION_2} -o (\\S+) -j DROP$`).exec(l)?.[1]).filter((b): b is string => !!b && !mine.includes(b) && exists(b));
  const bridges = [...new Set([...others, ...inUse])];
  const jump = filter.filter((l) => l === `-A FORWARD -j ${ISOLATION_1}`);
  const current = filter.filter((l) => l.startsWith(`-A ${ISOLATION_1} `) || l.startsWith(`-A ${ISOLATION_2} `));
  const wanted = bridges.flatMap((b) => [`-A ${ISOLATION_1} -i ${b} ! -o ${b} -j ${ISOLATION_2}`, `-A ${ISOLATION_2} -o ${b} -j DROP`]);
  if (bridges.length === 0) {
    if (!declared(filter, ISOLATION_1) && !declared(filter, ISOLATION_2)) return [];
    return [...jump.map((l) => l.replace(/^-A /, "-D ")), ...[ISOLATION_1, ISOLATION_2].filter((c) => declared(filter, c)).flatMap((c) => [`:${c} - [0:0]`, `-X ${c}`])];
  }
  const same = jump.length === 1 && current.length === wanted.length && wanted.every((w) => current.includes(w));
  if (same) return [];
  return [`:${ISOLATION_1} - [0:0]`, `:${ISOLATION_2} - [0:0]`, ...wanted, ...(jump.length ? [] : [`-I FORWARD 1 -j ${ISOLATION_1}`])];
}

/**
 * Networks do not reach each other: a packet that comes in from one of `bridges` and goes out
 * another one of them is dropped. No bridges: the chains and FORWARD's jump go.
 */
export function isolateBridges(inUse: string[], mine: string[]): void {
  const ops = isolationChanges(save("iptables").get("filter") ?? [], inUse, mine, (b) => existsSync(`/sys/class/net/${b}`));
  if (ops.length) restore("iptables", new Map([["filter", ops]]));
}
