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
