// Images: the content store, layers, snapshots and the host's image store (DESIGN.md, image/).
export { ContentStore, type BlobInfo, type Expected, type Ingest } from "./content/index.js";
export * from "./layer/index.js";
export { openSnapshotter, overlaySupported, OverlaySnapshotter, CopySnapshotter, type Snapshotter, type SnapshotterKind, type SnapshotInfo, type ActiveSnapshot } from "./snapshot/index.js";
export { ImageStore, REF_NAME, type Image, type StoreOptions } from "./store.js";
export { parseReference, isDigestReference, withTag, DEFAULT_DOMAIN, type Reference } from "./reference.js";
export { importTarball, commitImage, storeLayer, type ImportOptions } from "./import.js";
export { saveImages, loadImages, type ArchiveFormat, type Loaded } from "./archive.js";
export { bootstrapBusybox, bootstrapDebian, aptMirror } from "./bootstrap.js";
export { parseChanges } from "./changes.js";
