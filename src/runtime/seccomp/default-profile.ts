// Docker's default seccomp policy (moby/profiles seccomp/default_linux.go, the source of
// moby's profiles/seccomp/default.json), written out as data: deny with EPERM, allow a list of
// syscalls, allow some only with safe arguments, and allow more as capabilities are added.

import type { Seccomp, SeccompArg, SeccompSyscall } from "../../oci/runtime-spec.js";
import { nativeSeccompArch, type SeccompArch } from "./compile.js";

interface Entry {
  names: string[];
  action?: "SCMP_ACT_ERRNO";
  errnoRet?: number;
  args?: SeccompArg[];
  /** Only with all of these capabilities / only on one of these (Go) architectures. */
  includes?: { caps?: string[]; arches?: string[] };
  /** Not with any of these capabilities / not on these architectures. */
  excludes?: { caps?: string[]; arches?: string[] };
}

// Allowed for everyone. (ptrace, process_vm_readv/writev: Docker gates these on kernel >= 4.8,
// older than anything berth runs on.)
const ALLOWED = `
accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate
ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer
getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid
getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr getxattrat inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get
ioprio_set io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self
lchown lchown32 lgetxattr link linkat listen listmount listxattr listxattrat llistxattr _llseek
lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret
mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify
mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap mseal
msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat
_newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg
recvmmsg_time64 recvmsg remap_file_pages removexattr removexattrat rename renameat renameat2
restart_syscall riscv_hwprobe rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity
sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send
sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32
setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area
set_tid_address setuid setuid32 setxattr setxattrat shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64
statmount statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate
truncate64 ugetrlimit umask uname unlink unlinkat uretprobe utime utimensat utimensat_time64 utimes
vfork vmsplice wait4 waitid waitpid write writev
process_vm_readv process_vm_writev ptrace
`;

// socket(2) domains that stay open: every AF_* the kernel implements except AF_ALG (38: the
// kernel crypto API) and AF_VSOCK (40: host/VM sockets), and except families the kernel has
// removed (12 DECnet, 19 Econet, 20 ATMSVC, 23 IrDA, 25 WANPIPE, 34 ISDN, 37 CAIF).
const SOCKET_DOMAINS = [
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 21, 22, 24, 26, 27, 28, 29, 30, 31, 32, 33, 35, 36, 39,
  41, 42, 43, 44, 45,
];

/** CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP: no new namespaces without CAP_SYS_ADMIN. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

function socketRules(): Entry[] {
  // runc turns two comparisons on one argument into separate ORed rules, so a bounded range
  // cannot be one rule: the run starting at AF_UNIX is "< first gap", the rest are equalities.
  let run = 0;
  while (SOCKET_DOMAINS[run + 1] === SOCKET_DOMAINS[run]! + 1) run++;
  const rules: Entry[] = [{ names: ["socket"], args: [{ index: 0, value: SOCKET_DOMAINS[run]! + 1, op: "SCMP_CMP_LT" }] }];
  for (const d of SOCKET_DOMAINS.slice(run + 1)) rules.push({ names: ["socket"], args: [{ index: 0, value: d, op: "SCMP_CMP_EQ" }] });
  return rules;
}

const ENTRIES: Entry[] = [
  { names: ALLOWED.trim().split(/\s+/) },
  ...socketRules(),
  // PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and 0xffffffff to query
  ...[0x0, 0x8, 0x20000, 0x20008, 0xffffffff].map((value) => ({
    names: ["personality"],
    args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
  })),
  { names: ["sync_file_range2", "swapcontext"], includes: { arches: ["ppc64le"] } },
  {
    names: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"],
    includes: { arches: ["arm", "arm64"] },
  },
  { names: ["arch_prctl"], includes: { arches: ["amd64", "x32"] } },
  { names: ["modify_ldt"], includes: { arches: ["amd64", "x32", "x86"] } },
  { names: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], includes: { arches: ["s390", "s390x"] } },
  { names: ["riscv_flush_icache"], includes: { arches: ["riscv64"] } },
  { names: ["open_by_handle_at"], includes: { caps: ["CAP_DAC_READ_SEARCH"] } },
  {
    names: [
      "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick", "lookup_dcookie",
      "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount", "mount_setattr", "move_mount",
      "open_tree", "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog",
      "umount", "umount2", "unshare",
    ],
    includes: { caps: ["CAP_SYS_ADMIN"] },
  },
  {
    names: ["clone"],
    args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
  },
  {
    // s390 passes clone's flags second
    names: ["clone"],
    args: [{ index: 1, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
    includes: { arches: ["s390", "s390x"] },
    excludes: { caps: ["CAP_SYS_ADMIN"] },
  },
  // clone3's flags are behind a pointer: ENOSYS makes libc fall back to clone, which is checked
  { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38, excludes: { caps: ["CAP_SYS_ADMIN"] } },
  { names: ["reboot"], includes: { caps: ["CAP_SYS_BOOT"] } },
  { names: ["chroot"], includes: { caps: ["CAP_SYS_CHROOT"] } },
  { names: ["delete_module", "init_module", "finit_module"], includes: { caps: ["CAP_SYS_MODULE"] } },
  { names: ["acct"], includes: { caps: ["CAP_SYS_PACCT"] } },
  {
    names: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
    includes: { caps: ["CAP_SYS_PTRACE"] },
  },
  { names: ["iopl", "ioperm"], includes: { caps: ["CAP_SYS_RAWIO"] } },
  { names: ["settimeofday", "stime", "clock_settime", "clock_settime64"], includes: { caps: ["CAP_SYS_TIME"] } },
  { names: ["vhangup"], includes: { caps: ["CAP_SYS_TTY_CONFIG"] } },
  { names: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], includes: { caps: ["CAP_SYS_NICE"] } },
  { names: ["syslog"], includes: { caps: ["CAP_SYSLOG"] } },
  { names: ["bpf"], includes: { caps: ["CAP_BPF"] } },
  { names: ["perf_event_open"], includes: { caps: ["CAP_PERFMON"] } },
];

// Docker's archMap: the native architecture and the ones its CPUs can also run.
const ARCH_MAP: Partial<Record<SeccompArch, string[]>> = {
  SCMP_ARCH_X86_64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  SCMP_ARCH_AARCH64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
};

// Go's GOARCH names, which the profile's includes/excludes use.
const GOARCH: Record<SeccompArch, string> = {
  SCMP_ARCH_X86_64: "amd64",
  SCMP_ARCH_X32: "x32",
  SCMP_ARCH_X86: "386",
  SCMP_ARCH_AARCH64: "arm64",
  SCMP_ARCH_ARM: "arm",
};

/**
 * Docker's default seccomp profile for a container with these capabilities (Docker uses the
 * bounding set): default SCMP_ACT_ERRNO with EPERM, capability-gated entries included as Docker
 * includes them.
 */
export function defaultSeccompProfile(capabilities: string[], arch: SeccompArch = nativeSeccompArch()): Seccomp {
  const caps = new Set(capabilities);
  const goarch = GOARCH[arch];
  const syscalls: SeccompSyscall[] = [];
  for (const e of ENTRIES) {
    if (e.excludes?.arches?.includes(goarch)) continue;
    if (e.excludes?.caps?.some((c) => caps.has(c))) continue;
    if (e.includes?.arches && !e.includes.arches.includes(goarch)) continue;
    if (e.includes?.caps && !e.includes.caps.every((c) => caps.has(c))) continue;
    const s: SeccompSyscall = { names: e.names, action: e.action ?? "SCMP_ACT_ALLOW" };
    if (e.errnoRet !== undefined) s.errnoRet = e.errnoRet;
    if (e.args) s.args = e.args;
    syscalls.push(s);
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1,
    architectures: ARCH_MAP[arch] ?? [arch],
    syscalls,
  };
}
