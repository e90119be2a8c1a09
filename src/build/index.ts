// Dockerfile builds (DESIGN.md, build/): parse, expand, context and .dockerignore, cache, steps.
export { pruneBuildCache, type BuildCachePrune } from "./cache.js";
export { build, Builder, type BuildOptions, type BuildEvent, type BuildResult } from "./builder.js";
export { parseDockerfile, type Dockerfile, type Instruction, type Heredoc } from "./dockerfile.js";
export { expandWord, expandWords, splitWords, keyValues } from "./expand.js";
export { ignoreMatcher, ignorePatterns, findSources, globRegExp } from "./context.js";
export { placeSources } from "./copy.js";
