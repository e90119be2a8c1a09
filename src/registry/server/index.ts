export { startRegistry, lockStorage, type Registry, type RegistryOptions } from "./server.js";
export { collectGarbage, type GcResult } from "./gc.js";
export { RegistryStorage } from "./storage.js";
export { RegistryError, type ErrorCode } from "./errors.js";
