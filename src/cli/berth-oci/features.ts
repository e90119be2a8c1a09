// features: the runtime-spec features document of this build.
import type { Command } from "commander";
import { features } from "../../runtime/index.js";
import type { CommandEnv } from "./globals.js";
import { VERSION } from "./version.js";

/** what src/runtime/seccomp compiles */
const SECCOMP_FEATURES = {
  actions: ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
  operators: ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
  archs: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"],
  flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
};

export function register(program: Command, env: CommandEnv): void {
  program
    .command("features")
    .description("show what this runtime supports (JSON)")
    .action(() => {
      env.cli.stdout.write(JSON.stringify(features(VERSION, SECCOMP_FEATURES), null, "    ") + "\n");
    });
}
