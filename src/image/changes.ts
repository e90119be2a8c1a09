// `--change` for import and commit: the Dockerfile instructions that set only image config
// (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), as
// `docker import --change` takes them.
import { invalidArgument } from "../errors.js";
import type { ContainerConfig } from "../oci/index.js";

const q = (s: string) => JSON.stringify(s);

/** The exec form (a JSON array of strings) or the shell form, as Docker reads CMD and ENTRYPOINT. */
function command(arg: string): string[] {
  if (arg.startsWith("[")) {
    try {
      const v: unknown = JSON.parse(arg);
      if (Array.isArray(v) && v.every((x) => typeof x === "string")) return v;
    } catch {
      // not JSON: Docker treats it as the shell form too
    }
  }
  return ["/bin/sh", "-c", arg];
}

/** KEY=VALUE pairs (values may be quoted) or the legacy `KEY VALUE` form. */
function pairs(arg: string, what: string): [string, string][] {
  const words = arg.match(/(?:[^\s"']+|"(?:\\.|[^"\\])*"|'[^']*')+/g) ?? [];
  const unquote = (s: string) => s.replace(/"((?:\\.|[^"\\])*)"|'([^']*)'/g, (_, d: string | undefined, sq: string | undefined) => (d !== undefined ? d.replace(/\\(.)/g, "$1") : sq!));
  if (words.length > 0 && !words[0]!.includes("=")) {
    const space = arg.search(/\s/);
    if (space < 0) throw invalidArgument(`--change ${what} ${arg}: expected KEY=VALUE`);
    return [[arg.slice(0, space), arg.slice(space).trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw invalidArgument(`--change ${what}: ${q(w)}: expected KEY=VALUE`);
    return [w.slice(0, eq), unquote(w.slice(eq + 1))];
  });
}

/** Applies `--change` instructions on top of `base`, returning the new config. */
export function parseChanges(changes: string[], base: ContainerConfig = {}): ContainerConfig {
  const c: ContainerConfig = structuredClone(base);
  for (const change of changes) {
    const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(change);
    if (!m) throw invalidArgument(`--change ${q(change)}: expected a Dockerfile instruction such as CMD ["sh"]`);
    const op = m[1]!.toUpperCase();
    const arg = m[2]!.trim();
    if (arg === "") throw invalidArgument(`--change ${op}: needs an argument`);
    switch (op) {
      case "CMD":
        c.Cmd = command(arg);
        break;
      case "ENTRYPOINT":
        c.Entrypoint = command(arg);
        break;
      case "ENV": {
        const env = (c.Env ?? []).slice();
        for (const [k, v] of pairs(arg, op)) {
          const i = env.findIndex((e) => e.split("=")[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(arg, op)) };
        break;
      case "EXPOSE":
        for (const p of arg.split(/\s+/)) {
          if (!/^\d{1,5}(-\d{1,5})?(\/(tcp|udp|sctp))?$/i.test(p)) throw invalidArgument(`--change EXPOSE ${p}: expected PORT[/tcp|udp|sctp]`);
          c.ExposedPorts = { ...(c.ExposedPorts ?? {}), [p.includes("/") ? p.toLowerCase() : `${p}/tcp`]: {} };
        }
        break;
      case "VOLUME": {
        const vols = arg.startsWith("[") ? command(arg) : arg.split(/\s+/);
        if (vols[0] === "/bin/sh") throw invalidArgument(`--change VOLUME ${arg}: expected paths or a JSON array of paths`);
        for (const v of vols) c.Volumes = { ...(c.Volumes ?? {}), [v]: {} };
        break;
      }
      case "USER":
        c.User = arg;
        break;
      case "WORKDIR":
        c.WorkingDir = arg.startsWith("/") ? arg : `${c.WorkingDir ?? "/"}${(c.WorkingDir ?? "/").endsWith("/") ? "" : "/"}${arg}`;
        break;
      case "STOPSIGNAL":
        c.StopSignal = arg;
        break;
      case "ONBUILD":
        c.OnBuild = [...(c.OnBuild ?? []), arg];
        break;
      default:
        throw invalidArgument(`--change ${op}: not an instruction --change takes (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)`);
    }
  }
  return c;
}
