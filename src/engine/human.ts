// Durations as Docker words them ("3 seconds", "About a minute", "2 hours").
export function humanDuration(ms: number): string {
  const s = Math.max(0, ms / 1000);
  if (s < 1) return "Less than a second";
  if (s < 60) return `${Math.floor(s)} second${Math.floor(s) === 1 ? "" : "s"}`;
  const m = s / 60;
  if (m < 2) return "About a minute";
  if (m < 60) return `${Math.floor(m)} minutes`;
  const h = m / 60;
  if (Math.round(h) === 1) return "About an hour";
  if (h < 48) return `${Math.round(h)} hours`;
  const d = h / 24;
  if (d < 14) return `${Math.floor(d)} days`;
  if (d < 90) return `${Math.floor(d / 7)} weeks`;
  if (d < 730) return `${Math.floor(d / 30)} months`;
  return `${Math.floor(d / 365)} years`;
}
