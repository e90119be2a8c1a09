// seccomp: OCI profiles -> BPF programs the executor loads as its last step before execve.
export {
  compileSeccomp,
  nativeSeccompArch,
  AUDIT_ARCH,
  SECCOMP_FILTER_FLAG,
  SECCOMP_RET,
  type CompiledSeccomp,
  type CompileOptions,
  type SeccompArch,
} from "./compile.js";
export { defaultSeccompProfile } from "./default-profile.js";
export { runBpf, type SeccompData } from "./bpf.js";
