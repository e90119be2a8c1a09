import { invalidArgument } from "../errors.js";

// Plain text tables, aligned like docker's and runc's.
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] + 3)))
      .join("")
      .trimEnd() + "\n";
  return [header, ...rows].map(line).join("");
}

/** Sizes as docker prints them: decimal units, three significant digits ("4.26MB"). */
export function humanSize(bytes: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let n = bytes;
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${Number(n.toPrecision(3))}${units[i]}`;
}

/** "3 hours ago", as docker's CREATED column says it. */
export function humanAgo(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (Number.isNaN(t)) return "N/A";
  const s = Math.max(0, (now - t) / 1000);
  const ago = (d: string) => `${d} ago`;
  if (s < 1) return "Less than a second ago";
  if (s < 60) return ago(`${Math.floor(s)} second${Math.floor(s) === 1 ? "" : "s"}`);
  const m = s / 60;
  if (m < 2) return ago("About a minute");
  if (m < 60) return ago(`${Math.floor(m)} minutes`);
  const h = m / 60;
  if (Math.round(h) === 1) return ago("About an hour");
  if (h < 48) return ago(`${Math.round(h)} hours`);
  const d = h / 24;
  if (d < 7 * 2) return ago(`${Math.floor(d)} days`);
  if (d < 30 * 3) return ago(`${Math.floor(d / 7)} weeks`);
  if (d < 365 * 2) return ago(`${Math.floor(d / 30)} months`);
  return ago(`${Math.floor(d / 365)} years`);
}

/**
 * `--format`: "table" (the default), "json" (one JSON object per line), or a Go-template-like
 * string such as "{{.Repository}}:{{.Tag}}" or "table {{.ID}}\t{{.Size}}" (fields by name,
 * `{{json .}}`, `{{json .Field}}`, `\t` and `\n`), as docker's --format takes it.
 */
export function formatRows(format: string | undefined, header: Record<string, string>, rows: Record<string, unknown>[]): string {
  if (format === undefined || format === "" || format === "table") {
    const keys = Object.keys(header);
    return table(keys.map((k) => header[k]!), rows.map((r) => keys.map((k) => String(r[k] ?? ""))));
  }
  if (format === "json") return rows.map((r) => JSON.stringify(r) + "\n").join("");
  let tmpl = format.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  const isTable = /^table\s/.test(tmpl);
  if (isTable) tmpl = tmpl.replace(/^table\s+/, "");
  const render = (r: Record<string, unknown>, head: boolean) => (head ? templateHeader(tmpl, header) : renderTemplate(tmpl, r, format, Object.keys(header)));
  const lines = rows.map((r) => render(r, false));
  if (!isTable) return lines.map((l) => l + "\n").join("");
  // a table template: columns split at tabs and aligned like the default table
  const head = render({}, true).split("\t");
  return table(head, lines.map((l) => l.split("\t")));
}

const FIELD = /\{\{\s*(json\s+)?\.([\w.]*)\s*\}\}/g;

function templateHeader(tmpl: string, header: Record<string, string>): string {
  return tmpl.replace(FIELD, (_, _json: string | undefined, field: string) => (field ? (header[field] ?? field.toUpperCase()) : ""));
}

/** One value through a template: `{{.Field}}`, `{{.Config.Cmd}}`, `{{json .}}`, `{{json .Field}}`. */
export function renderTemplate(tmpl: string, value: unknown, format = tmpl, fields?: string[]): string {
  return tmpl.replace(FIELD, (_, json: string | undefined, field: string) => {
    let v: unknown = value;
    for (const f of field ? field.split(".") : []) {
      if (typeof v !== "object" || v === null || !(f in v)) {
        throw invalidArgument(`--format ${JSON.stringify(format)}: no field ${field}${fields ? ` (fields: ${fields.join(", ")})` : ""}`);
      }
      v = (v as Record<string, unknown>)[f];
    }
    if (json) return JSON.stringify(v ?? null);
    if (Array.isArray(v)) return `[${v.join(" ")}]`; // as Go prints a slice
    if (v === null || v === undefined) return "<no value>";
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  });
}
