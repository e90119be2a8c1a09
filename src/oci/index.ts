export * from "./runtime-spec.js";
export * from "./capabilities.js";
export * from "./validate.js";
export * from "./default-spec.js";
export * from "./digest.js";
export * from "./image-spec.js";
