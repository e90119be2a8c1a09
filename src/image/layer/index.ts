// Layers: applying an OCI changeset tar to a directory, and making one from a directory.
export { applyLayer, compressionOf, OPAQUE_WHITEOUT, OVERLAY_OPAQUE_XATTR, WHITEOUT_PREFIX, type AppliedLayer, type ApplyOptions, type Compression, type IdMap } from "./apply.js";
export { diffLayer, diffTrees, tarTree, type DiffOptions } from "./diff.js";
export { readTar, tarHeader, tarPadding, TAR_END, type TarEntry } from "./tar.js";
