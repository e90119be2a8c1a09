// A CNI runtime (the Container Network Interface spec, 1.0.0): runs plugin binaries with the
// CNI_* environment and the network config on stdin, chains a .conflist's plugins through
// prevResult, and caches each attachment's config and result so DEL has what it needs even
// after a crash or after the network's config file is gone.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import path from "node:path";
import { BerthError, invalidArgument, notFound } from "../errors.js";
import { processAlive } from "../sys/index.js";

export const DEFAULT_PLUGIN_DIRS = ["/usr/lib/cni", "/opt/cni/bin"];
const PLUGIN_TIMEOUT_MS = 60_000;

/** One plugin's entry in a .conflist ("type" names the binary). */
export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface CniInterface {
  name: string;
  mac?: string;
  sandbox?: string;
}

export interface CniIp {
  address: string;
  gateway?: string;
  interface?: number;
}

export interface CniResult {
  cniVersion: string;
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

/** What a runtime hands a plugin besides the config: the attachment. */
export interface Attachment {
  containerId: string;
  /** path of the network namespace file */
  netns: string;
  ifName: string;
  /** CNI_ARGS: KEY=VALUE pairs */
  args?: Record<string, string>;
  /** runtimeConfig, given to the plugins that declare the capability (portMappings, ...) */
  capabilityArgs?: Record<string, unknown>;
}

/** What the runtime keeps per attachment (<cacheDir>/<network>-<container>-<ifname>.json). */
export interface CachedAttachment extends Attachment {
  kind: "berth-cni-cache-v1";
  network: string;
  config: NetConfList;
  result?: CniResult;
}

/** Parses and checks a .conflist; a single plugin's .conf is turned into a list of one. */
export function parseConfList(text: string, source = "network config"): NetConfList {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`${source}: not JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw invalidArgument(`${source}: expected a JSON object`);
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(d.name)) throw invalidArgument(`${source}: "name" must be letters, digits, _ . - (got ${JSON.stringify(d.name)})`);
  if (typeof d.cniVersion !== "string" || !/^\d+\.\d+\.\d+$/.test(d.cniVersion)) throw invalidArgument(`${source}: "cniVersion" must be a version like 1.0.0`);
  let plugins = d.plugins;
  if (plugins === undefined && typeof d.type === "string") {
    const { name: _n, cniVersion: _v, ...one } = d;
    plugins = [one];
  }
  if (!Array.isArray(plugins) || plugins.length === 0) throw invalidArgument(`${source}: "plugins" must be a non-empty list`);
  for (const [i, p] of plugins.entries()) {
    if (typeof p !== "object" || p === null || typeof (p as PluginConf).type !== "string" || !/^[A-Za-z0-9_.-]+$/.test((p as PluginConf).type)) {
      throw invalidArgument(`${source}: plugins[${i}] needs a "type" naming a plugin binary`);
    }
  }
  return { cniVersion: d.cniVersion, name: d.name, ...(d.disableCheck === true ? { disableCheck: true } : {}), plugins: plugins as PluginConf[] };
}

/** The config one plugin gets on stdin: its entry, the list's name and version, prevResult, runtimeConfig. */
export function pluginConfig(list: NetConfList, plugin: PluginConf, prevResult: CniResult | undefined, capabilityArgs: Record<string, unknown> = {}): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) if (on && cap in capabilityArgs) runtimeConfig[cap] = capabilityArgs[cap];
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

/** A result in the current format: pre-0.3 results (ip4/ip6) become an ips list. */
export function parseResult(out: string, plugin: string): CniResult {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(out) as Record<string, unknown>;
  } catch {
    throw new BerthError("Internal", `CNI plugin ${plugin}: result is not JSON: ${JSON.stringify(out.slice(0, 200))}`);
  }
  if (doc.ips !== undefined || doc.interfaces !== undefined || !("ip4" in doc || "ip6" in doc)) return doc as unknown as CniResult;
  const ips: CniIp[] = [];
  const routes: { dst: string; gw?: string }[] = [];
  for (const key of ["ip4", "ip6"]) {
    const ip = doc[key] as { ip?: string; gateway?: string; routes?: { dst: string; gw?: string }[] } | undefined;
    if (!ip?.ip) continue;
    ips.push({ address: ip.ip, ...(ip.gateway ? { gateway: ip.gateway } : {}) });
    routes.push(...(ip.routes ?? []));
  }
  return { cniVersion: String(doc.cniVersion ?? "0.2.0"), ips, ...(routes.length ? { routes } : {}), ...(doc.dns ? { dns: doc.dns as Record<string, unknown> } : {}) };
}

/** A CNI error result as one line: `CNI plugin bridge (ADD): <msg>: <details> (code N)`. */
export function errorLine(plugin: string, command: string, out: string, stderr: string, status: number | null): string {
  let msg = "";
  try {
    const e = JSON.parse(out) as { code?: number; msg?: string; details?: string };
    if (e && typeof e === "object" && (e.msg || e.code !== undefined)) msg = [e.msg, e.details].filter(Boolean).join(": ") + (e.code !== undefined ? ` (code ${e.code})` : "");
  } catch {
    // not an error object: fall back to stderr
  }
  if (!msg) msg = (stderr.trim() || out.trim() || `exit status ${status}`).split("\n").filter(Boolean).at(-1) ?? "";
  return `CNI plugin ${plugin} (${command}): ${msg.replace(/\s*\n\s*/g, " ")}`;
}

export class CniRuntime {
  constructor(
    /** where plugin binaries are looked for, in order */
    readonly pluginDirs: string[] = DEFAULT_PLUGIN_DIRS,
    /** where attachments are cached */
    readonly cacheDir: string,
  ) {}

  findPlugin(type: string): string {
    for (const d of this.pluginDirs) {
      const p = path.join(d, type);
      try {
        fs.accessSync(p, fs.constants.X_OK);
        if (fs.statSync(p).isFile()) return p;
      } catch {
        // not here
      }
    }
    throw notFound(`CNI plugin ${type} not found in ${this.pluginDirs.join(":")}`, "apt-get install containernetworking-plugins");
  }

  /** Runs one plugin; resolves with its stdout, or throws its error result as one line. */
  async exec(type: string, command: string, conf: Record<string, unknown>, a: Partial<Attachment>): Promise<string> {
    const bin = this.findPlugin(type);
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      CNI_COMMAND: command,
      CNI_PATH: this.pluginDirs.join(":"),
    };
    if (a.containerId) env.CNI_CONTAINERID = a.containerId;
    if (a.netns) env.CNI_NETNS = a.netns;
    if (a.ifName) env.CNI_IFNAME = a.ifName;
    if (command !== "VERSION") env.CNI_ARGS = Object.entries({ IgnoreUnknown: "1", ...(a.args ?? {}) }).map(([k, v]) => `${k}=${v}`).join(";");
    return new Promise((resolve, reject) => {
      const child = spawn(bin, [], { env, stdio: ["pipe", "pipe", "pipe"], timeout: PLUGIN_TIMEOUT_MS });
      let out = "";
      let err = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      child.on("error", (e) => reject(new BerthError("Unavailable", `CNI plugin ${type} (${command}): ${e.message}`)));
      child.on("close", (status, signal) => {
        if (status === 0) resolve(out);
        else reject(new BerthError("Unavailable", signal ? `CNI plugin ${type} (${command}): killed by ${signal}` : errorLine(type, command, out, err, status)));
      });
      child.stdin.on("error", () => undefined); // a plugin that exits without reading stdin
      child.stdin.end(JSON.stringify(conf));
    });
  }

  /** VERSION: the spec versions the plugin supports. */
  async versions(type: string, cniVersion = "1.0.0"): Promise<string[]> {
    const out = await this.exec(type, "VERSION", { cniVersion }, {});
    const doc = JSON.parse(out) as { supportedVersions?: string[] };
    return doc.supportedVersions ?? ["0.1.0", "0.2.0"];
  }

  cacheFile(network: string, containerId: string, ifName: string): string {
    return path.join(this.cacheDir, `${network}-${containerId}-${ifName}.json`);
  }

  cached(network: string, containerId: string, ifName: string): CachedAttachment | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.cacheFile(network, containerId, ifName), "utf8")) as CachedAttachment;
    } catch {
      return undefined;
    }
  }

  /** Every cached attachment of a container (the ones a crash may have left). */
  cachedFor(containerId: string): CachedAttachment[] {
    return this.all().filter((c) => c.containerId === containerId);
  }

  /** Every cached attachment. */
  all(): CachedAttachment[] {
    return this.read(".json");
  }

  /** The cache entries with this suffix; a DEL claim whose process is gone is given back first. */
  private read(suffix: string): CachedAttachment[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.cacheDir);
    } catch {
      return [];
    }
    for (const n of names) {
      const m = /^(.*\.json)\.del-(\d+)$/.exec(n);
      if (m && !processAlive(Number(m[2]))) {
        try {
          fs.renameSync(path.join(this.cacheDir, n), path.join(this.cacheDir, m[1]!));
        } catch {
          // given back by another berth meanwhile
        }
      }
    }
    if (suffix === ".json") names = fs.readdirSync(this.cacheDir);
    return names
      .filter((n) => (suffix === ".json" ? n.endsWith(".json") : n.includes(suffix)))
      .map((n) => {
        try {
          return JSON.parse(fs.readFileSync(path.join(this.cacheDir, n), "utf8")) as CachedAttachment;
        } catch {
          return undefined;
        }
      })
      .filter((c): c is CachedAttachment => c?.kind === "berth-cni-cache-v1");
  }

  private writeCache(c: CachedAttachment): void {
    fs.mkdirSync(this.cacheDir, { recursive: true, mode: 0o700 });
    const file = this.cacheFile(c.network, c.containerId, c.ifName);
    fs.writeFileSync(file + ".tmp", JSON.stringify(c, null, 2));
    fs.renameSync(file + ".tmp", file);
  }

  /**
   * ADD through the whole list. The attachment is cached before the first plugin runs, so a
   * crash half-way is undone by DEL; a failed ADD runs DEL itself (the spec's rule).
   */
  async add(list: NetConfList, a: Attachment): Promise<CniResult> {
    for (const p of list.plugins) this.findPlugin(p.type); // a missing binary fails before anything is made
    const entry: CachedAttachment = { kind: "berth-cni-cache-v1", network: list.name, config: list, ...a };
    this.writeCache(entry);
    let prev: CniResult | undefined;
    try {
      for (const p of list.plugins) prev = parseResult(await this.exec(p.type, "ADD", pluginConfig(list, p, prev, a.capabilityArgs), a), p.type);
    } catch (e) {
      // a DEL that fails too (a config no plugin can parse) would fail forever: forget the attachment
      await this.del(list.name, a.containerId, a.ifName).catch(() => fs.rmSync(this.cacheFile(list.name, a.containerId, a.ifName), { force: true }));
      throw e;
    }
    const result = prev ?? { cniVersion: list.cniVersion };
    this.writeCache({ ...entry, result });
    return result;
  }

  /** CHECK through the list with the cached result; throws the first plugin's complaint. */
  async check(network: string, containerId: string, ifName: string): Promise<void> {
    const c = this.cached(network, containerId, ifName);
    if (!c?.result) throw notFound(`no CNI attachment of ${containerId} to network ${network} (${ifName})`);
    if (c.config.disableCheck) return;
    for (const p of c.config.plugins) await this.exec(p.type, "CHECK", pluginConfig(c.config, p, c.result, c.capabilityArgs), c);
  }

  /**
   * DEL through the list in reverse with the cached config and result; the cache entry goes
   * once every plugin has agreed. Nothing cached: nothing to do (DEL is idempotent).
   */
  async del(network: string, containerId: string, ifName: string): Promise<void> {
    // one DEL at a time per attachment (rm -f and the container's monitor both clean up): the
    // berth that renames the entry to <file>.del-<pid> runs it, and gives it back if it fails
    const file = this.cacheFile(network, containerId, ifName);
    const claim = `${file}.del-${process.pid}`;
    try {
      fs.renameSync(file, claim);
    } catch {
      return; // not cached, or another berth is deleting it
    }
    try {
      const c = JSON.parse(fs.readFileSync(claim, "utf8")) as CachedAttachment;
      // a namespace that is already gone: plugins still release IPs and rules, without the netns
      const a: Attachment = { ...c, netns: fs.existsSync(c.netns) ? c.netns : "" };
      for (const p of [...c.config.plugins].reverse()) await this.exec(p.type, "DEL", pluginConfig(c.config, p, c.result, c.capabilityArgs), a);
    } catch (e) {
      fs.renameSync(claim, file);
      throw e;
    }
    fs.rmSync(claim, { force: true });
  }

  /** Forgets an attachment without DEL (`network disconnect -f` after a DEL failed). */
  forget(network: string, containerId: string, ifName: string): void {
    fs.rmSync(this.cacheFile(network, containerId, ifName), { force: true });
  }

  /** Whether a DEL of one of the container's attachments is under way (its netns must stay until it is done). */
  deleting(containerId: string): boolean {
    return this.read(".json.del-").some((c) => c.containerId === containerId);
  }
}
