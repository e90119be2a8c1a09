// The seccomp compiler: profiles compiled to BPF and run, syscall by syscall, in the TS
// interpreter that executes classic BPF the way the kernel does.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Seccomp } from "../../src/oci/runtime-spec.js";
import { compileSeccomp, defaultSeccompProfile, runBpf, AUDIT_ARCH, SECCOMP_RET } from "../../src/runtime/seccomp/index.js";
import { X86_64, X86, X32 } from "../../src/runtime/seccomp/syscalls.js";
import { BerthError } from "../../src/errors.js";

const ARCH = "SCMP_ARCH_X86_64" as const;
const ERRNO = (e: number) => (SECCOMP_RET.ERRNO | e) >>> 0;

/** Runs the compiled profile on one x86_64 syscall. */
function verdict(profile: Seccomp, name: string, args: bigint[] = [], arch: number = AUDIT_ARCH.X86_64, table: Readonly<Record<string, number>> = X86_64): number {
  const { program } = compileSeccomp(profile, "p", { nativeArch: ARCH });
  const nr = table[name];
  assert.ok(nr !== undefined, `no syscall ${name}`);
  return runBpf(program, { nr, arch, args });
}

function refused(profile: unknown, message: RegExp): void {
  assert.throws(
    () => compileSeccomp(profile as Seccomp, "config.json: linux.seccomp", { nativeArch: ARCH }),
    (e: unknown) => e instanceof BerthError && message.test(e.message) && !e.message.includes("\n"),
  );
}

describe("seccomp compiler", () => {
  test("default action, a named syscall's action and its errnoRet", () => {
    const p: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["mkdir", "mkdirat"], action: "SCMP_ACT_ERRNO", errnoRet: 13 },
        { names: ["getpid"], action: "SCMP_ACT_ERRNO" },
        { names: ["reboot"], action: "SCMP_ACT_KILL_PROCESS" },
      ],
    };
    assert.equal(verdict(p, "mkdir"), ERRNO(13));
    assert.equal(verdict(p, "mkdirat"), ERRNO(13));
    assert.equal(verdict(p, "getpid"), ERRNO(1), "errnoRet defaults to EPERM");
    assert.equal(verdict(p, "reboot"), SECCOMP_RET.KILL_PROCESS);
    assert.equal(verdict(p, "read"), SECCOMP_RET.ALLOW);
    assert.equal(verdict(p, "openat"), SECCOMP_RET.ALLOW);
  });

  test("defaultErrnoRet; syscalls above every named one get ENOSYS when the default denies (runc's stub)", () => {
    const p: Seccomp = { defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 5, syscalls: [{ names: ["read", "write", "openat"], action: "SCMP_ACT_ALLOW" }] };
    assert.equal(verdict(p, "read"), SECCOMP_RET.ALLOW);
    assert.equal(verdict(p, "openat"), SECCOMP_RET.ALLOW);
    assert.equal(verdict(p, "close"), ERRNO(5));
    // openat is 257: a newer syscall (e.g. 435 clone3) is "not implemented" so libc falls back
    assert.equal(verdict(p, "clone3"), ERRNO(38));
  });

  test("every action maps to its SECCOMP_RET value", () => {
    const cases: [string, number][] = [
      ["SCMP_ACT_KILL", SECCOMP_RET.KILL_THREAD],
      ["SCMP_ACT_KILL_THREAD", SECCOMP_RET.KILL_THREAD],
      ["SCMP_ACT_KILL_PROCESS", SECCOMP_RET.KILL_PROCESS],
      ["SCMP_ACT_TRAP", SECCOMP_RET.TRAP],
      ["SCMP_ACT_TRACE", (SECCOMP_RET.TRACE | 1) >>> 0],
      ["SCMP_ACT_LOG", SECCOMP_RET.LOG],
      ["SCMP_ACT_ALLOW", SECCOMP_RET.ALLOW],
    ];
    for (const [action, ret] of cases) {
      const p = { defaultAction: action === "SCMP_ACT_ALLOW" ? "SCMP_ACT_LOG" : "SCMP_ACT_ALLOW", syscalls: [{ names: ["chdir"], action }] } as Seccomp;
      assert.equal(verdict(p, "chdir"), ret, action);
    }
  });

  test("argument operators, including 64-bit values and MASKED_EQ", () => {
    const rule = (op: string, value: number | bigint, valueTwo?: number | bigint): Seccomp =>
      ({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["personality"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op, value, valueTwo }] }] }) as unknown as Seccomp;
    const denied = (p: Seccomp, a: bigint) => verdict(p, "personality", [a]) === ERRNO(1);
    const big = 0x1_0000_0005n;

    assert.ok(denied(rule("SCMP_CMP_EQ", 8), 8n));
    assert.ok(!denied(rule("SCMP_CMP_EQ", 8), 9n));
    assert.ok(!denied(rule("SCMP_CMP_EQ", 5), big), "the high word takes part in EQ");
    assert.ok(denied(rule("SCMP_CMP_EQ", big), big));

    assert.ok(denied(rule("SCMP_CMP_NE", 8), 9n));
    assert.ok(!denied(rule("SCMP_CMP_NE", 8), 8n));
    assert.ok(denied(rule("SCMP_CMP_NE", 5), big));

    for (const [op, at, below, above] of [
      ["SCMP_CMP_LT", false, true, false],
      ["SCMP_CMP_LE", true, true, false],
      ["SCMP_CMP_GT", false, false, true],
      ["SCMP_CMP_GE", true, false, true],
    ] as const) {
      const p = rule(op, big);
      assert.equal(denied(p, big), at, `${op} equal`);
      assert.equal(denied(p, big - 1n), below, `${op} below (low word wraps to 4)`);
      assert.equal(denied(p, 6n), below, `${op} far below (smaller high word, larger low word)`);
      assert.equal(denied(p, big + 1n), above, `${op} above`);
      assert.equal(denied(p, 0x2_0000_0000n), above, `${op} far above (larger high word, smaller low word)`);
    }

    // Docker's clone rule: deny when (flags & CLONE_NEWNS|...) != 0 is written as MASKED_EQ 0 → allow
    const masked = rule("SCMP_CMP_MASKED_EQ", 0xff, 0x08);
    assert.ok(denied(masked, 0x108n), "only the masked bits count");
    assert.ok(!denied(masked, 0x09n));
    assert.ok(denied(rule("SCMP_CMP_MASKED_EQ", 0xff_0000_0000n, 0x12_0000_0000n), 0x12_dead_beefn), "a high-word mask");
    assert.ok(!denied(rule("SCMP_CMP_MASKED_EQ", 0xff_0000_0000n, 0x12_0000_0000n), 0x13_0000_0000n));
    assert.ok(denied(rule("SCMP_CMP_EQ", 2 ** 64), 0xffff_ffff_ffff_ffffn), "2^64-1 survives JSON's doubles");
  });

  test("several conditions on a syscall must all hold; several on one index are separate rules (runc)", () => {
    const all: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["socket"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 2 }, { index: 1, op: "SCMP_CMP_EQ", value: 3 }] }],
    };
    assert.equal(verdict(all, "socket", [2n, 3n]), ERRNO(1));
    assert.equal(verdict(all, "socket", [2n, 1n]), SECCOMP_RET.ALLOW);
    const any: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["socket"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, op: "SCMP_CMP_EQ", value: 2 }, { index: 0, op: "SCMP_CMP_EQ", value: 10 }] }],
    };
    assert.equal(verdict(any, "socket", [2n]), ERRNO(1));
    assert.equal(verdict(any, "socket", [10n]), ERRNO(1));
    assert.equal(verdict(any, "socket", [1n]), SECCOMP_RET.ALLOW);
  });

  test("architectures: foreign arch is killed; x86 and x32 get their own numbers", () => {
    const p: Seccomp = { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mkdir"], action: "SCMP_ACT_ERRNO" }] };
    assert.equal(verdict(p, "mkdir", [], AUDIT_ARCH.AARCH64), SECCOMP_RET.KILL_THREAD, "an architecture the profile does not list");
    assert.equal(verdict(p, "mkdir", [], AUDIT_ARCH.I386, X86), SECCOMP_RET.KILL_THREAD);
    const multi: Seccomp = { ...p, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"] };
    assert.equal(verdict(multi, "mkdir", [], AUDIT_ARCH.I386, X86), ERRNO(1));
    assert.equal(verdict(multi, "getpid", [], AUDIT_ARCH.I386, X86), SECCOMP_RET.ALLOW);
    const { program } = compileSeccomp(multi, "p", { nativeArch: ARCH });
    assert.equal(runBpf(program, { nr: X32.mkdir! + 0x40000000, arch: AUDIT_ARCH.X86_64 }), ERRNO(1), "x32 mkdir");
    assert.equal(runBpf(program, { nr: X86_64.mkdir!, arch: AUDIT_ARCH.X86_64 }), ERRNO(1), "x86_64 mkdir");
    // without x32 listed, x32 calls are a foreign ABI
    const { program: only64 } = compileSeccomp(p, "p", { nativeArch: ARCH });
    assert.equal(runBpf(only64, { nr: X32.getpid! + 0x40000000, arch: AUDIT_ARCH.X86_64 }), SECCOMP_RET.KILL_THREAD);
  });

  test("flags are passed on; unknown syscall names are skipped and reported", () => {
    const c = compileSeccomp(
      { defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], syscalls: [{ names: ["mkdir", "no_such_call"], action: "SCMP_ACT_ERRNO" }] } as Seccomp,
      "p",
      { nativeArch: ARCH },
    );
    assert.equal(c.flags, 2 | 4);
    assert.deepEqual(c.unknownSyscalls, ["no_such_call"]);
    assert.equal(runBpf(c.program, { nr: X86_64.mkdir!, arch: AUDIT_ARCH.X86_64 }), ERRNO(1));
  });

  test("Docker's default profile: fits the kernel's limit, allows the ordinary, blocks the dangerous", () => {
    const caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_SETFCAP"];
    const p = defaultSeccompProfile(caps, ARCH);
    const { program } = compileSeccomp(p, "default", { nativeArch: ARCH });
    assert.ok(program.length / 8 < 4096, `${program.length / 8} instructions`);
    for (const ok of ["read", "write", "openat", "execve", "clone", "mmap", "chroot", "getpid"]) assert.equal(verdict(p, ok), SECCOMP_RET.ALLOW, ok);
    for (const no of ["mount", "umount2", "reboot", "kexec_load", "init_module", "bpf", "unshare", "setns", "keyctl", "add_key"]) {
      assert.equal(verdict(p, no), ERRNO(1), no);
    }
    // clone with a namespace flag is refused, plain clone allowed
    assert.equal(verdict(p, "clone", [0x11n]), SECCOMP_RET.ALLOW);
    assert.equal(verdict(p, "clone", [0x20000000n /* CLONE_NEWUTS */]), ERRNO(1));
    // personality: only the harmless values
    assert.equal(verdict(p, "personality", [0n]), SECCOMP_RET.ALLOW);
    assert.equal(verdict(p, "personality", [0x0040000n /* ADDR_NO_RANDOMIZE */]), ERRNO(1));
    // CAP_SYS_ADMIN opens mount and friends, as in Docker
    const admin = defaultSeccompProfile([...caps, "CAP_SYS_ADMIN"], ARCH);
    assert.equal(verdict(admin, "mount"), SECCOMP_RET.ALLOW);
    assert.equal(verdict(admin, "unshare"), SECCOMP_RET.ALLOW);
  });

  test("a malformed profile is one clear line naming the field", () => {
    refused({ syscalls: [] }, /^config\.json: linux\.seccomp\.defaultAction: missing/);
    refused({ defaultAction: "SCMP_ACT_NOPE" }, /^config\.json: linux\.seccomp\.defaultAction: unknown action "SCMP_ACT_NOPE"$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_Z80"] }, /architectures\[0\]: unknown architecture "SCMP_ARCH_Z80"$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", flags: ["SECCOMP_FILTER_FLAG_FAST"] }, /flags\[0\]: unknown flag/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: [], action: "SCMP_ACT_ERRNO" }] }, /syscalls\[0\]\.names: expected a non-empty array of strings$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", errnoRet: -1 }] }, /syscalls\[0\]\.errnoRet: expected an integer between 0 and 65535, got -1$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 6, value: 1, op: "SCMP_CMP_EQ" }] }] }, /args\[0\]\.index: expected an integer between 0 and 5, got 6$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: 1, op: "SCMP_CMP_ABOUT" }] }] }, /args\[0\]\.op: unknown operator "SCMP_CMP_ABOUT"$/);
    refused({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["read"], action: "SCMP_ACT_ERRNO", args: [{ index: 0, value: -3, op: "SCMP_CMP_EQ" }] }] }, /args\[0\]\.value: expected an integer between 0 and 2\^64-1, got -3$/);
  });

  test("a filter longer than the kernel allows is refused", () => {
    const names = Object.keys(X86_64);
    const p: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: names.map((n, i) => ({ names: [n], action: "SCMP_ACT_ERRNO", args: Array.from({ length: 6 }, (_, index) => ({ index, op: "SCMP_CMP_GT" as const, value: i * 1e10 })) })),
    };
    refused(p, /compiles to \d+ BPF instructions, more than the kernel's limit of 4096$/);
  });
});
