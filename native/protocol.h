/*
 * berth launch-plan protocol. Mirrored by src/runtime/protocol.ts: keep the two identical.
 *
 * TypeScript decides, C executes. The TypeScript side compiles an OCI config into a
 * launch plan: an ordered list of primitive operations. It starts `berth-runtime exec`
 * with the plan and a sync channel on fd 3 (a unix socketpair) and the container's stdio
 * on fds 0-2. The executor runs the ops in order; it holds no policy of its own.
 *
 *   TypeScript (berth-oci)             stage0 (berth-runtime)            container init
 *   ----------------------             ----------------------            --------------
 *   PLAN ------------------------------> read plan
 *                                        MKFIFO / OPEN_STATEDIR / SETNS
 *                                        CLONE ----------------------------> (child)
 *   <------------------------------- MSG_CHILD_PID(pid)
 *                                        (STAY=0: exit 0)                  SYNC(SETUP)
 *   <----------------------------------------------------------------- MSG_SYNC_REQ(SETUP)
 *   cgroups, id maps, oom_score_adj
 *   MSG_SYNC_ACK(SETUP) ------------------------------------------------->
 *                                        (STAY=1: wait for the child,      mounts, pivot_root,
 *                                         exit with its status)            hostname, rlimits,
 *                                                                          caps, user, chdir,
 *                                                                          exec lookup
 *   <----------------------------------------------------------------- MSG_READY
 *   write state.json, exit                                                 WAIT_START: blocks in
 *                                                                          open(exec.fifo, O_WRONLY)
 *   `start`: open exec.fifo for reading, read one byte, unlink it ------>  SECCOMP, EXEC
 *
 * Any failing op in the child sends MSG_ERROR(errno, label) and the child exits 1;
 * the label is text written by TypeScript ("mount proc on /proc"), the errno the kernel's.
 *
 * Wire format (all integers little-endian):
 *   plan    := "BRTHPLAN" u32:version u32:length op*           (length = bytes of op*)
 *   op      := u32:code u32:nargs arg*                        (every op's first arg is its label)
 *   arg     := u32:length bytes                               (integers are 8-byte i64 args)
 *   message := u32:type u32:length payload
 */
#ifndef BERTH_PROTOCOL_H
#define BERTH_PROTOCOL_H

#define PLAN_MAGIC "BRTHPLAN"
#define PLAN_VERSION 1

/* Operations. Paths that begin with '/' are used as they are; other paths are
 * resolved inside the current root (SET_ROOT) and may not escape it. */
enum plan_op {
  OP_MKFIFO = 1,        /* label, path, mode                         (stage0) */
  OP_OPEN_STATEDIR = 2, /* label, path: keep a dir fd for WAIT_START (stage0) */
  OP_SETNS = 3,         /* label, path, nstype                       (stage0) */
  OP_CLONE = 4,         /* label, flags, stay: later ops run in the child */
  OP_SYNC = 5,          /* label, point: send MSG_SYNC_REQ, wait for MSG_SYNC_ACK */
  OP_SET_ROOT = 6,      /* label, path: root that relative paths resolve in */
  OP_MOUNT = 7,         /* label, source, target, fstype, flags, data, create(0 none,1 dir,2 file) */
  OP_MKDIR = 8,         /* label, path, mode (parents created too) */
  OP_MKNOD = 9,         /* label, path, mode (with S_IFCHR etc.), dev, uid, gid */
  OP_SYMLINK = 10,      /* label, target, path */
  OP_PIVOT_ROOT = 11,   /* label, path */
  OP_CHROOT = 12,       /* label, path */
  OP_CHDIR = 13,        /* label, path */
  OP_WRITE_FILE = 14,   /* label, path, content */
  OP_SETHOSTNAME = 15,  /* label, name */
  OP_SETDOMAINNAME = 16,/* label, name */
  OP_SETRLIMIT = 17,    /* label, resource, soft, hard */
  OP_MASK_PATH = 18,    /* label, path: tmpfs (dir) or /dev/null (file) over it; absent is fine */
  OP_READONLY_PATH = 19,/* label, path: bind it read-only over itself; absent is fine */
  OP_UMASK = 20,        /* label, mask */
  OP_NO_NEW_PRIVS = 21, /* label */
  OP_CAPS_BOUNDING = 22,/* label, mask: drop every capability not in mask */
  OP_KEEPCAPS = 23,     /* label, on */
  OP_SETUSER = 24,      /* label, uid, gid, groups (u32 array), setgroups */
  OP_CAPSET = 25,       /* label, effective, permitted, inheritable */
  OP_AMBIENT = 26,      /* label, mask */
  OP_LOOPBACK_UP = 27,  /* label */
  OP_SETSID = 28,       /* label */
  OP_LOOKUP_EXEC = 29,  /* label, file, PATH: resolve like execvp, remember for EXEC */
  OP_READY = 30,        /* label: send MSG_READY and close the sync channel */
  OP_WAIT_START = 31,   /* label, fifo name in the state dir: block until `start` */
  OP_SECCOMP = 32,      /* label, bpf program (struct sock_filter[]), flags */
  OP_EXEC = 33,         /* label, argv (NUL-separated), envp (NUL-separated) */
  OP_OOM_SCORE_ADJ = 34,/* label, value */
  OP_REMOUNT_RO = 35,   /* label, target: MS_REMOUNT|MS_BIND|MS_RDONLY keeping the mount's other flags */
  OP_UNSHARE = 36,      /* label, flags (e.g. the cgroup namespace, after joining the cgroup) */
  OP_RUN_HOOK = 37,     /* label, path, argv, envp, timeout seconds (0 none), stdin file in the state dir */
  OP_CONSOLE_SOCKET = 38, /* label, path: connect to the engine's console socket   (stage0) */
  OP_CONSOLE_PAIR = 39, /* label: stage0 keeps the other end, proxies the pty to its stdio (stage0) */
  OP_PERSONALITY = 41,  /* label, persona */
  OP_BPF_DEVICES = 42,  /* label, cgroup2 dir, eBPF program (struct bpf_insn[]), license:
                           load a BPF_PROG_TYPE_CGROUP_DEVICE program and attach it to the dir */
  OP_SETUP_TTY = 40,    /* label, rows, cols, uid, gid: open a pty in the container, send the
                           master over the console socket, make the slave our stdio and ctty */
  OP_COUNT
};

/* Messages on the sync channel. */
enum sync_msg {
  MSG_CHILD_PID = 1, /* C->TS  i32 pid of the container init, in the caller's pid namespace */
  MSG_SYNC_REQ = 2,  /* C->TS  i32 sync point */
  MSG_SYNC_ACK = 3,  /* TS->C  i32 sync point */
  MSG_READY = 4,     /* C->TS  empty: about to wait for start */
  MSG_ERROR = 5,     /* C->TS  i32 errno, then the failing op's label */
};

/* Sync points. */
enum sync_point {
  SYNC_SETUP = 1, /* parent: put the pid in its cgroups, write id maps */
  SYNC_HOOKS = 2, /* parent: run hooks that need the namespaces but not yet pivot_root */
};

/*
 * The warm path (DESIGN.md "Start-up speed"). `berth-oci` may be the C front-end
 * (native/build/berth-oci, a link to this executor): it connects to the warm TypeScript
 * service's unix socket and forwards the command; the service answers with output and an
 * exit status, or asks the front-end to run a launch plan itself, so the container gets
 * the caller's own stdio. The front-end then opens a second connection, ATTACHes it with
 * the token, and uses it as the sync channel above (fd 3).
 *
 *   front-end (C)                                   warm service (TypeScript)
 *   W_REQUEST(argv, cwd, env) ---------------------->  runs the command
 *   <---------------------------------------------- W_OUTPUT(fd, bytes)*
 *   <---------------------------------------------- W_EXECUTE(stay, token)   (create/run only)
 *   connect again: W_ATTACH(token) ----------------->  this connection is the sync channel:
 *   <================ PLAN, MSG_* as above ========>
 *   (stay) W_CHILD_EXIT(status) ------------------->  run: delete the container
 *   <---------------------------------------------- W_EXIT(code)
 *
 * Frames on the control connection use the message format above.
 * W_REQUEST payload: u32 len + argv (NUL-separated), u32 len + cwd, u32 len + env (NUL-separated).
 *
 * `berth` (native/build/berth, the same program under that name) has no launch plans of its
 * own to run: its containers start under their monitors. It passes its stdio instead, and
 * the service runs berth's CLI with them; signals the front-end gets go to the command.
 *
 *   W_BERTH(argv, cwd, env) + SCM_RIGHTS(fd 0, 1, 2) ->  runs `berth ARGV` with those fds
 *   W_SIGNAL(signo)* ------------------------------->  to the command (run passes it on)
 *   <---------------------------------------------- W_DIRECT   needs the caller's terminal:
 *                                                    the front-end execs `node bin/berth ARGV`
 *   <---------------------------------------------- W_EXIT(code)   -n: killed by signal n
 */
enum warm_msg {
  W_REQUEST = 100,
  W_OUTPUT = 101,    /* u8 fd (1 or 2), bytes */
  W_EXIT = 102,      /* i32 exit code */
  W_EXECUTE = 103,   /* u32 stay, token */
  W_ATTACH = 104,    /* token */
  W_CHILD_EXIT = 105,/* i32 status of the container (stay) */
  W_BERTH = 106,     /* W_REQUEST's payload, for berth; the caller's fds 0, 1, 2 ride along */
  W_SIGNAL = 107,    /* u32 signal number the front-end received */
  W_DIRECT = 108,    /* take the Direct path */
};

#endif
