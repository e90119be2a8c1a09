// Snapshotters: overlay where the kernel has it, copy elsewhere.
import { readFileSync } from "node:fs";
import path from "node:path";
import { CopySnapshotter } from "./copy.js";
import { OverlaySnapshotter } from "./overlay.js";
import type { Snapshotter } from "./snapshotter.js";

export type { ActiveSnapshot, SnapshotInfo, Snapshotter } from "./snapshotter.js";
export { OverlaySnapshotter } from "./overlay.js";
export { CopySnapshotter } from "./copy.js";

export type SnapshotterKind = "overlay" | "copy";

export function overlaySupported(): boolean {
  try {
    return /\toverlay$/m.test(readFileSync("/proc/filesystems", "utf8"));
  } catch {
    return false;
  }
}

/** The snapshotter of a data root: `<dataRoot>/snapshots/<kind>`. */
export function openSnapshotter(dataRoot: string, kind: SnapshotterKind = overlaySupported() ? "overlay" : "copy"): Snapshotter {
  const root = path.join(dataRoot, "snapshots", kind);
  return kind === "overlay" ? new OverlaySnapshotter(root) : new CopySnapshotter(root);
}
