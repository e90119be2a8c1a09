// Snapshots: each image layer unpacked once, keyed by its chain ID, and shared by every image
// that has it; a container's rootfs is an active snapshot on top of its image's chain.
// Two implementations beside each other: overlay (the default) and copy (where overlay is not
// available). Both are driven by the same test suite.
import type { Readable } from "node:stream";

export interface SnapshotInfo {
  chainId: string;
  /** the chain ID of the layers below; undefined for a base layer */
  parent?: string;
  diffId: string;
  /** the bytes of its layer's regular files (a layer's size as Docker counts it; not its parents') */
  size: number;
  created: string;
}

export interface ActiveSnapshot {
  key: string;
  /** the committed chain it sits on (undefined: an empty rootfs) */
  parent?: string;
  /** who it belongs to, e.g. the image ID a container was made from */
  labels: Record<string, string>;
  created: string;
}

export interface Snapshotter {
  readonly kind: "overlay" | "copy";
  /** Whether the layer chain `chainId` is unpacked. */
  has(chainId: string): boolean;
  info(chainId: string): SnapshotInfo | undefined;
  list(): SnapshotInfo[];
  /**
   * Unpacks a layer (a tar stream, compressed or not) on top of `parent` as snapshot `chainId`,
   * checking its diffID. Atomic: a failure leaves nothing, and when another process unpacked the
   * same chain meanwhile, theirs is kept. Returns the snapshot.
   */
  unpack(chainId: string, parent: string | undefined, layer: Readable, diffId: string): Promise<SnapshotInfo>;
  /** Removes a committed snapshot; refuses while a child snapshot or an active one uses it. */
  remove(chainId: string): void;

  /** A writable snapshot on top of `parent` (a container's rootfs). */
  prepare(key: string, parent: string | undefined, labels?: Record<string, string>): ActiveSnapshot;
  active(): ActiveSnapshot[];
  /** Mounts the active snapshot at `target` (an existing directory). */
  mount(key: string, target: string): void;
  /**
   * The directories whose union is what an active snapshot was made on, nearest first (overlay:
   * each layer's own files with overlay whiteouts; copy: the one full tree).
   */
  lowerDirs(key: string): string[];
  /** The changes made in the active snapshot, as an uncompressed layer tar. */
  diff(key: string): Readable;
  /** Removes an active snapshot (its mount must be gone). */
  removeActive(key: string): void;
}
