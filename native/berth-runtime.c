/*
 * berth-runtime: the launch-plan executor. It knows no OCI and reads no JSON:
 * TypeScript compiles every decision into the plan (see protocol.h), this
 * program performs the operations in order and reports failures.
 *
 *   berth-runtime exec       read a plan on fd 3, run it (fd 3 is the sync channel)
 *   berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES
 *                            the same, staying as the container's monitor (monitor.c)
 *   berth-runtime version    print the protocol version
 *
 * Under the names berth-oci and berth it is the warm path's front-end instead
 * (protocol.h, "The warm path"; DESIGN.md "Start-up speed").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/bpf.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <libgen.h>
#include <poll.h>
#include <termios.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>

#include "protocol.h"
#include "monitor.h"

#define SYNC_FD 3
#define MAX_ARGS 16

struct arg {
  const char *data; /* NUL-terminated copy */
  uint32_t len;
};

struct op {
  uint32_t code;
  uint32_t nargs;
  struct arg args[MAX_ARGS];
};

static struct op *ops;
static size_t nops;
static int sync_fd = SYNC_FD;
static int root_fd = -1;     /* SET_ROOT */
static int state_fd = -1;    /* OPEN_STATEDIR */
static char exec_path[4096]; /* LOOKUP_EXEC */
static const char *cur_label = "berth-runtime";
static int front_control = -1; /* the warm service's control connection, in front-end mode */
static jmp_buf front_stage0;    /* a failing stage0 op in the front-end returns to its control loop */
static int front_in_stage0;
static int console_fd = -1;    /* the child's end: the master is sent here */
static int console_peer = -1;  /* stage0's end of CONSOLE_PAIR: receives the master to proxy */

/* ---------- messages ---------- */

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t n = read(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      errno = EPIPE;
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

static int send_msg(uint32_t type, const void *payload, uint32_t len) {
  if (sync_fd < 0) return -1;
  uint32_t hdr[2] = {type, len};
  char buf[8 + 4096 + 8];
  if (len > sizeof(buf) - 8) len = sizeof(buf) - 8;
  memcpy(buf, hdr, 8);
  memcpy(buf + 8, payload, len);
  return write_all(sync_fd, buf, 8 + len);
}

/* Report the failing op and exit. errno is the kernel's. */
static void __attribute__((noreturn)) fail(int err, const char *fmt, ...) {
  char label[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(label, sizeof(label), fmt, ap);
  va_end(ap);
  char payload[4 + sizeof(label)];
  int32_t e = err;
  memcpy(payload, &e, 4);
  size_t l = strlen(label);
  memcpy(payload + 4, label, l);
  if (send_msg(MSG_ERROR, payload, (uint32_t)(4 + l)) < 0) {
    /* Nobody listens any more (after start): tell the container's stderr. */
    if (err)
      dprintf(2, "berth: %s: %s\n", label, strerror(err));
    else
      dprintf(2, "berth: %s\n", label);
  }
  if (front_in_stage0) longjmp(front_stage0, 1); /* the service reports it; we wait for W_EXIT */
  _exit(err == ENOENT ? 127 : (err == EACCES || err == ENOEXEC) ? 126 : 1);
}

#define FAIL(...) fail(errno, __VA_ARGS__)

/* ---------- plan decoding ---------- */

static int64_t arg_int(const struct op *op, uint32_t i) {
  int64_t v = 0;
  if (i < op->nargs && op->args[i].len == 8) memcpy(&v, op->args[i].data, 8);
  return v;
}

static const char *arg_str(const struct op *op, uint32_t i) {
  return i < op->nargs ? op->args[i].data : "";
}

static void read_plan(int fd) {
  char magic[8];
  uint32_t hdr[2];
  if (read_all(fd, magic, 8) < 0 || memcmp(magic, PLAN_MAGIC, 8) != 0) fail(EINVAL, "read launch plan: bad magic");
  if (read_all(fd, hdr, 8) < 0) FAIL("read launch plan header");
  if (hdr[0] != PLAN_VERSION) fail(EINVAL, "launch plan version %u, this executor speaks %u", hdr[0], PLAN_VERSION);
  uint32_t total = hdr[1];
  char *buf = malloc(total + 1);
  if (!buf) FAIL("allocate launch plan");
  if (read_all(fd, buf, total) < 0) FAIL("read launch plan");
  /* count ops, then decode */
  size_t cap = 64;
  ops = calloc(cap, sizeof(struct op));
  size_t off = 0;
  while (off < total) {
    if (nops == cap) {
      cap *= 2;
      ops = realloc(ops, cap * sizeof(struct op));
      if (!ops) FAIL("allocate launch plan");
    }
    struct op *op = &ops[nops];
    memset(op, 0, sizeof(*op));
    if (total - off < 8) fail(EINVAL, "launch plan truncated");
    memcpy(&op->code, buf + off, 4);
    memcpy(&op->nargs, buf + off + 4, 4);
    off += 8;
    if (op->nargs > MAX_ARGS) fail(EINVAL, "launch plan op %u has %u args", op->code, op->nargs);
    for (uint32_t i = 0; i < op->nargs; i++) {
      uint32_t len;
      if (total - off < 4) fail(EINVAL, "launch plan truncated");
      memcpy(&len, buf + off, 4);
      off += 4;
      if (total - off < len) fail(EINVAL, "launch plan truncated");
      char *copy = malloc(len + 1);
      if (!copy) FAIL("allocate launch plan");
      memcpy(copy, buf + off, len);
      copy[len] = 0;
      op->args[i].data = copy;
      op->args[i].len = len;
      off += len;
    }
    nops++;
  }
  free(buf);
}

/* ---------- paths inside the root ---------- */

/* Open path inside root_fd without letting symlinks or ".." leave it. */
static int open_in_root(const char *path, int flags) {
  struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/* mkdir -p inside the root; returns an O_PATH fd of the last directory. */
static int mkdir_in_root(const char *path, mode_t mode) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", path);
  int fd = open_in_root(buf, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT) return fd;
  /* create each missing component in turn */
  for (char *p = buf; ; p++) {
    if (*p == '/' || *p == 0) {
      char saved = *p;
      *p = 0;
      if (buf[0] != 0) {
        int d = open_in_root(buf, O_PATH | O_DIRECTORY);
        if (d < 0) {
          if (errno != ENOENT) return -1;
          char *slash = strrchr(buf, '/');
          int parent;
          const char *name;
          if (slash) {
            *slash = 0;
            parent = buf[0] ? open_in_root(buf, O_PATH | O_DIRECTORY) : dup(root_fd);
            *slash = '/';
            name = slash + 1;
          } else {
            parent = dup(root_fd);
            name = buf;
          }
          if (parent < 0) return -1;
          if (mkdirat(parent, name, mode) < 0 && errno != EEXIST) {
            int e = errno;
            close(parent);
            errno = e;
            return -1;
          }
          close(parent);
        } else {
          close(d);
        }
      }
      *p = saved;
      if (saved == 0) break;
    }
  }
  return open_in_root(buf, O_PATH | O_DIRECTORY);
}

/* Resolve a target: absolute paths are used as they are; relative ones inside the root,
 * creating a directory or an empty file when asked. Writes a usable path into out. */
static int resolve_target(const char *path, int create, char *out, size_t outlen, int *fd_out) {
  *fd_out = -1;
  if (path[0] == '/') {
    if (create == 1) {
      /* host path: plain mkdir -p */
      char buf[4096];
      snprintf(buf, sizeof(buf), "%s", path);
      for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
          *p = 0;
          mkdir(buf, 0755);
          *p = '/';
        }
      mkdir(buf, 0755);
    }
    snprintf(out, outlen, "%s", path);
    return 0;
  }
  int fd;
  if (create == 1) {
    fd = mkdir_in_root(path, 0755);
  } else if (create == 2) {
    fd = open_in_root(path, O_PATH);
    if (fd < 0 && errno == ENOENT) {
      char parent[4096];
      snprintf(parent, sizeof(parent), "%s", path);
      char *slash = strrchr(parent, '/');
      const char *name = path;
      int pfd;
      if (slash) {
        *slash = 0;
        name = slash + 1;
        pfd = mkdir_in_root(parent, 0755);
      } else {
        pfd = dup(root_fd);
      }
      if (pfd < 0) return -1;
      int f = openat(pfd, name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
      int e = errno;
      close(pfd);
      if (f < 0) {
        errno = e;
        return -1;
      }
      close(f);
      fd = open_in_root(path, O_PATH);
    }
  } else {
    fd = open_in_root(path, O_PATH);
  }
  if (fd < 0) return -1;
  *fd_out = fd;
  snprintf(out, outlen, "/proc/self/fd/%d", fd);
  return 0;
}

/* Split "a/b/c" into an O_PATH fd of the parent "a/b" (inside the root) and the name "c". */
static int parent_in_root(const char *path, char *name, size_t namelen) {
  char buf[4096];
  snprintf(buf, sizeof(buf), "%s", path);
  char *slash = strrchr(buf, '/');
  if (!slash) {
    snprintf(name, namelen, "%s", buf);
    return dup(root_fd);
  }
  snprintf(name, namelen, "%s", slash + 1);
  *slash = 0;
  if (buf[0] == 0) return dup(root_fd);
  return mkdir_in_root(buf, 0755);
}

/* ---------- operations ---------- */

static void op_mount(const struct op *op) {
  const char *label = arg_str(op, 0), *src = arg_str(op, 1), *dst = arg_str(op, 2);
  const char *fstype = arg_str(op, 3), *data = arg_str(op, 5);
  unsigned long flags = (unsigned long)arg_int(op, 4);
  int create = (int)arg_int(op, 6);
  char target[4200];
  int fd;
  if (resolve_target(dst, create, target, sizeof(target), &fd) < 0) FAIL("%s", label);
  if (mount(src[0] ? src : NULL, target, fstype[0] ? fstype : NULL, flags, data[0] ? data : NULL) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    fail(e, "%s", label);
  }
  if (fd >= 0) close(fd);
}

static void op_remount_ro(const struct op *op) {
  const char *label = arg_str(op, 0), *dst = arg_str(op, 1);
  char target[4200];
  int fd;
  if (resolve_target(dst, 0, target, sizeof(target), &fd) < 0) FAIL("%s", label);
  /* keep the flags the mount already has (locked ones in a user namespace must stay) */
  unsigned long keep = 0;
  struct statvfs sv;
  if (statvfs(target, &sv) == 0)
    keep = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC | ST_NOATIME | ST_NODIRATIME | ST_RELATIME);
  if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | keep, NULL) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    fail(e, "%s", label);
  }
  if (fd >= 0) close(fd);
}

static void op_mask_path(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  char target[4200];
  int fd;
  if (resolve_target(path, 0, target, sizeof(target), &fd) < 0) {
    if (errno == ENOENT) return;
    FAIL("%s", label);
  }
  struct stat st;
  if (stat(target, &st) < 0) {
    if (fd >= 0) close(fd);
    if (errno == ENOENT) return;
    FAIL("%s", label);
  }
  int r;
  if (S_ISDIR(st.st_mode))
    r = mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0k");
  else
    r = mount("/dev/null", target, NULL, MS_BIND, NULL);
  int e = errno;
  if (fd >= 0) close(fd);
  if (r < 0) fail(e, "%s", label);
}

static void op_readonly_path(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  char target[4200];
  int fd;
  if (resolve_target(path, 0, target, sizeof(target), &fd) < 0) {
    if (errno == ENOENT) return;
    FAIL("%s", label);
  }
  if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    if (e == ENOENT) return;
    fail(e, "%s", label);
  }
  if (fd >= 0) close(fd);
  /* the bind is a new mount on top: resolve again so the fd names it */
  if (resolve_target(path, 0, target, sizeof(target), &fd) < 0) FAIL("%s", label);
  if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC, NULL) < 0) {
    /* locked flags in a user namespace: keep them */
    struct statvfs sv;
    unsigned long keep = 0;
    if (statvfs(target, &sv) == 0) keep = sv.f_flag & (ST_NOSUID | ST_NODEV | ST_NOEXEC);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | keep, NULL) < 0) {
      int e = errno;
      if (fd >= 0) close(fd);
      fail(e, "%s", label);
    }
  }
  if (fd >= 0) close(fd);
}

static void op_mkdir(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  mode_t mode = (mode_t)arg_int(op, 2);
  if (path[0] == '/') {
    char t[4200];
    int fd;
    if (resolve_target(path, 1, t, sizeof(t), &fd) < 0) FAIL("%s", label);
    return;
  }
  int fd = mkdir_in_root(path, mode);
  if (fd < 0) FAIL("%s", label);
  close(fd);
}

static void op_mknod(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  mode_t mode = (mode_t)arg_int(op, 2);
  dev_t dev = (dev_t)arg_int(op, 3);
  uid_t uid = (uid_t)arg_int(op, 4);
  gid_t gid = (gid_t)arg_int(op, 5);
  char name[256];
  int pfd = parent_in_root(path, name, sizeof(name));
  if (pfd < 0) FAIL("%s", label);
  /* O_PATH fds cannot be used with mknodat: reopen the directory */
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
  int dfd = open(proc, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  close(pfd);
  if (dfd < 0) FAIL("%s", label);
  unlinkat(dfd, name, 0);
  if (mknodat(dfd, name, mode, dev) < 0) {
    int e = errno;
    close(dfd);
    fail(e, "%s", label);
  }
  if (fchmodat(dfd, name, mode & 07777, 0) < 0 || fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
    int e = errno;
    close(dfd);
    fail(e, "%s", label);
  }
  close(dfd);
}

static void op_symlink(const struct op *op) {
  const char *label = arg_str(op, 0), *target = arg_str(op, 1), *path = arg_str(op, 2);
  char name[256];
  int pfd = parent_in_root(path, name, sizeof(name));
  if (pfd < 0) FAIL("%s", label);
  char proc[64];
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
  int dfd = open(proc, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  close(pfd);
  if (dfd < 0) FAIL("%s", label);
  if (symlinkat(target, dfd, name) < 0 && errno != EEXIST) {
    int e = errno;
    close(dfd);
    fail(e, "%s", label);
  }
  close(dfd);
}

static void op_write_file(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  const struct arg *content = &op->args[2];
  int fd = path[0] == '/' ? open(path, O_WRONLY | O_CLOEXEC) : open_in_root(path, O_WRONLY);
  if (fd < 0) FAIL("%s", label);
  if (write_all(fd, content->data, content->len) < 0) {
    int e = errno;
    close(fd);
    fail(e, "%s", label);
  }
  close(fd);
}

static void op_pivot_root(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) FAIL("%s", label);
  int newroot = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (newroot < 0) FAIL("%s", label);
  if (fchdir(newroot) < 0) FAIL("%s", label);
  if (syscall(SYS_pivot_root, ".", ".") < 0) FAIL("%s", label);
  /* the old root now sits on top of the new one: make it private and drop it */
  if (fchdir(oldroot) < 0) FAIL("%s", label);
  if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) FAIL("%s: make old root a slave", label);
  if (umount2(".", MNT_DETACH) < 0) FAIL("%s: detach old root", label);
  if (chdir("/") < 0) FAIL("%s", label);
  close(oldroot);
  close(newroot);
  if (root_fd >= 0) close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void op_chroot(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  if (chdir(path) < 0 || chroot(".") < 0 || chdir("/") < 0) FAIL("%s", label);
  if (root_fd >= 0) close(root_fd);
  root_fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void op_set_root(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) FAIL("%s", label);
  if (root_fd >= 0) close(root_fd);
  root_fd = fd;
}

static void op_loopback_up(const struct op *op) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) FAIL("%s", arg_str(op, 0));
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) FAIL("%s", arg_str(op, 0));
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) FAIL("%s", arg_str(op, 0));
  close(s);
}

static void op_setuser(const struct op *op) {
  const char *label = arg_str(op, 0);
  uid_t uid = (uid_t)arg_int(op, 1);
  gid_t gid = (gid_t)arg_int(op, 2);
  const struct arg *groups = &op->args[3];
  int setgroups_allowed = (int)arg_int(op, 4);
  if (setgroups_allowed) {
    size_t n = groups->len / 4;
    gid_t list[1024];
    if (n > 1024) n = 1024;
    for (size_t i = 0; i < n; i++) {
      uint32_t g;
      memcpy(&g, groups->data + i * 4, 4);
      list[i] = g;
    }
    if (setgroups(n, list) < 0) FAIL("%s: setgroups", label);
  }
  if (setresgid(gid, gid, gid) < 0) FAIL("%s: setgid %u", label, gid);
  if (setresuid(uid, uid, uid) < 0) FAIL("%s: setuid %u", label, uid);
}

static void op_caps_bounding(const struct op *op) {
  uint64_t keep = (uint64_t)arg_int(op, 1);
  for (int cap = 0; cap <= 63; cap++) {
    if (keep & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) < 0) break; /* past the kernel's last cap */
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) FAIL("%s", arg_str(op, 0));
  }
}

static void op_capset(const struct op *op) {
  uint64_t eff = (uint64_t)arg_int(op, 1), perm = (uint64_t)arg_int(op, 2), inh = (uint64_t)arg_int(op, 3);
  struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  data[0].effective = (uint32_t)eff;
  data[1].effective = (uint32_t)(eff >> 32);
  data[0].permitted = (uint32_t)perm;
  data[1].permitted = (uint32_t)(perm >> 32);
  data[0].inheritable = (uint32_t)inh;
  data[1].inheritable = (uint32_t)(inh >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0) FAIL("%s", arg_str(op, 0));
}

static void op_ambient(const struct op *op) {
  uint64_t mask = (uint64_t)arg_int(op, 1);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  for (int cap = 0; cap <= 63; cap++) {
    if (!(mask & (1ULL << cap))) continue;
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) FAIL("%s", arg_str(op, 0));
  }
}

static void op_lookup_exec(const struct op *op) {
  const char *label = arg_str(op, 0), *file = arg_str(op, 1), *path = arg_str(op, 2);
  if (strchr(file, '/')) {
    snprintf(exec_path, sizeof(exec_path), "%s", file);
    struct stat st;
    if (stat(exec_path, &st) < 0) FAIL("%s", label);
    if (S_ISDIR(st.st_mode)) fail(EACCES, "%s", label);
    if (access(exec_path, X_OK) < 0) FAIL("%s", label);
    return;
  }
  int saw_eacces = 0;
  const char *p = path;
  while (1) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    char dir[4096];
    if (n == 0)
      snprintf(dir, sizeof(dir), ".");
    else
      snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
    snprintf(exec_path, sizeof(exec_path), "%s/%s", dir, file);
    struct stat st;
    if (stat(exec_path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (access(exec_path, X_OK) == 0) return;
      saw_eacces = 1;
    }
    if (!colon) break;
    p = colon + 1;
  }
  fail(saw_eacces ? EACCES : ENOENT, "%s", label);
}

static void op_wait_start(const struct op *op) {
  const char *label = arg_str(op, 0), *name = arg_str(op, 1);
  if (state_fd < 0) fail(EBADF, "%s: no state directory", label);
  int fd = openat(state_fd, name, O_WRONLY | O_CLOEXEC);
  if (fd < 0) FAIL("%s", label);
  /* state_fd stays open (close-on-exec) for startContainer hooks' state */
  if (write_all(fd, "0", 1) < 0) FAIL("%s", label);
  close(fd);
}

static char **split_nul(const struct arg *a);

/* A hook inside the container: its stdin is a state file TypeScript wrote in the state dir. */
static void op_run_hook(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1), *stdin_name = arg_str(op, 5);
  int64_t timeout = arg_int(op, 4);
  if (state_fd < 0) fail(EBADF, "%s: no state directory", label);
  int in = openat(state_fd, stdin_name, O_RDONLY | O_CLOEXEC);
  if (in < 0) FAIL("%s", label);
  pid_t pid = fork();
  if (pid < 0) FAIL("%s", label);
  if (pid == 0) {
    dup2(in, 0);
    char **argv = split_nul(&op->args[2]);
    char **envp = split_nul(&op->args[3]);
    execve(path, argv, envp);
    dprintf(2, "berth: %s: %s\n", label, strerror(errno));
    _exit(127);
  }
  close(in);
  int status = 0;
  long waited_ms = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, timeout > 0 ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) FAIL("%s", label);
    if (timeout > 0) {
      if (waited_ms >= timeout * 1000) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail(0, "%s: timed out after %llds", label, (long long)timeout);
      }
      usleep(1000);
      waited_ms++;
    }
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) fail(ENOENT, "%s", label);
  fail(0, "%s: exited with status %d", label, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
}

/* ---------- terminals ---------- */

static int send_fd(int sock, int fd, const char *name) {
  struct msghdr msg = {0};
  struct iovec iov = {.iov_base = (void *)name, .iov_len = strlen(name)};
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof(cbuf));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  return sendmsg(sock, &msg, 0) < 0 ? -1 : 0;
}

int recv_fd(int sock) {
  struct msghdr msg = {0};
  char data[256];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
  char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof(cbuf);
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return -1;
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

static void op_console_socket(const struct op *op) {
  const char *label = arg_str(op, 0), *path = arg_str(op, 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) FAIL("%s", label);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(addr.sun_path)) fail(ENAMETOOLONG, "%s", label);
  strcpy(addr.sun_path, path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) FAIL("%s", label);
  console_fd = fd;
}

static void op_console_pair(const struct op *op) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) FAIL("%s", arg_str(op, 0));
  console_fd = sv[0];
  console_peer = sv[1];
}

static void op_setup_tty(const struct op *op) {
  const char *label = arg_str(op, 0);
  unsigned short rows = (unsigned short)arg_int(op, 1), cols = (unsigned short)arg_int(op, 2);
  uid_t uid = (uid_t)arg_int(op, 3);
  gid_t gid = (gid_t)arg_int(op, 4);
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) FAIL("%s: open /dev/ptmx", label);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) FAIL("%s: unlock pty", label);
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
  if (slave < 0) FAIL("%s: open pty slave", label);
  if (rows && cols) {
    struct winsize ws = {.ws_row = rows, .ws_col = cols};
    ioctl(master, TIOCSWINSZ, &ws);
  }
  if (fchown(slave, uid, gid) < 0 && errno != EINVAL) FAIL("%s: chown pty", label);
  if (console_fd < 0) fail(EBADF, "%s: no console socket", label);
  if (send_fd(console_fd, master, "/dev/ptmx") < 0) FAIL("%s: send pty master", label);
  close(master);
  close(console_fd);
  console_fd = -1;
  if (setsid() < 0) FAIL("%s: setsid", label);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) FAIL("%s: set controlling terminal", label);
  for (int i = 0; i <= 2; i++)
    if (dup2(slave, i) < 0) FAIL("%s: dup pty", label);
  if (slave > 2) close(slave);
}

static volatile sig_atomic_t winch_pending;
static void note_winch(int sig) { (void)sig; winch_pending = 1; }

/* run -t in the foreground: our stdio <-> the container's pty, until the child exits. */
static int proxy_console(pid_t pid) {
  int master = recv_fd(console_peer);
  close(console_peer);
  console_peer = -1;
  if (master < 0) return -1; /* the child failed before its tty: just wait for it */
  struct termios saved;
  int raw = isatty(0) && tcgetattr(0, &saved) == 0;
  if (raw) {
    struct termios t = saved;
    cfmakeraw(&t);
    tcsetattr(0, TCSANOW, &t);
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) ioctl(master, TIOCSWINSZ, &ws);
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = note_winch;
  sigaction(SIGWINCH, &sa, NULL);
  int stdin_open = 1;
  char buf[16384];
  for (;;) {
    if (winch_pending) {
      winch_pending = 0;
      struct winsize ws;
      if (ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) ioctl(master, TIOCSWINSZ, &ws);
    }
    struct pollfd p[2] = {{.fd = master, .events = POLLIN}, {.fd = stdin_open ? 0 : -1, .events = POLLIN}};
    int r = poll(p, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (p[0].revents & POLLIN) {
      ssize_t n = read(master, buf, sizeof(buf));
      if (n <= 0) break;
      write_all(1, buf, (size_t)n);
    } else if (p[0].revents & (POLLHUP | POLLERR)) {
      break; /* every slave is closed: the container is done with its terminal */
    }
    if (p[1].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, buf, sizeof(buf));
      if (n <= 0) {
        stdin_open = 0;
        write_all(master, "\x04", 1); /* EOF for the program reading the terminal */
      } else {
        write_all(master, buf, (size_t)n);
      }
    }
  }
  if (raw) tcsetattr(0, TCSANOW, &saved);
  close(master);
  (void)pid;
  return 0;
}

/* cgroup v2 device rules: an eBPF program TypeScript compiled, attached to the cgroup. */
static void op_bpf_devices(const struct op *op) {
  const char *label = arg_str(op, 0), *dir = arg_str(op, 1), *license = arg_str(op, 3);
  const struct arg *prog = &op->args[2];
  char log[4096] = {0};
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  attr.insns = (uint64_t)(uintptr_t)prog->data;
  attr.insn_cnt = prog->len / sizeof(struct bpf_insn);
  attr.license = (uint64_t)(uintptr_t)license;
  int pfd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
  if (pfd < 0) {
    /* load again with the verifier's log, which only a refused program needs (a log that
       overflows fails the load with ENOSPC, so it is not asked for the first time) */
    int e = errno;
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = sizeof(log);
    attr.log_level = 1;
    if (syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)) >= 0) fail(e, "%s: load device program", label);
    /* the verifier's complaint is the line before its "processed N insns" summary */
    char *why = log, *summary = strstr(log, "\nprocessed ");
    if (summary) {
      *summary = 0;
      char *prev = strrchr(log, '\n');
      why = prev ? prev + 1 : log;
    } else if (strncmp(log, "processed ", 10) == 0) {
      why = "";
    }
    char *nl = strchr(why, '\n');
    if (nl) *nl = 0;
    fail(e, "%s: load device program%s%s", label, why[0] ? ": " : "", why);
  }
  int cfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cfd < 0) FAIL("%s: open %s", label, dir);
  memset(&attr, 0, sizeof(attr));
  attr.target_fd = (uint32_t)cfd;
  attr.attach_bpf_fd = (uint32_t)pfd;
  attr.attach_type = BPF_CGROUP_DEVICE;
  attr.attach_flags = BPF_F_ALLOW_MULTI;
  if (syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0) FAIL("%s: attach to %s", label, dir);
  close(cfd);
  close(pfd);
}

static void op_seccomp(const struct op *op) {
  const struct arg *prog = &op->args[1];
  unsigned int flags = (unsigned int)arg_int(op, 2);
  struct sock_fprog fprog = {.len = (unsigned short)(prog->len / sizeof(struct sock_filter)),
                             .filter = (struct sock_filter *)prog->data};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog) < 0) FAIL("%s", arg_str(op, 0));
}

/* "a\0b\0c" into a NULL-terminated vector */
static char **split_nul(const struct arg *a) {
  size_t n = 0;
  for (uint32_t i = 0; i < a->len; i++)
    if (a->data[i] == 0) n++;
  if (a->len > 0 && a->data[a->len - 1] != 0) n++;
  char **v = calloc(n + 1, sizeof(char *));
  size_t k = 0;
  const char *s = a->data;
  for (uint32_t i = 0; i <= a->len && k < n; i++) {
    if (i == a->len || a->data[i] == 0) {
      v[k++] = (char *)s;
      s = a->data + i + 1;
    }
  }
  return v;
}

static void reset_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; s++) sigaction(s, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigprocmask(SIG_SETMASK, &set, NULL);
}

static void op_exec(const struct op *op) {
  const char *label = arg_str(op, 0);
  char **argv = split_nul(&op->args[1]);
  char **envp = split_nul(&op->args[2]);
  reset_signals();
  /* nothing of ours may reach the user's program */
  syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
  execve(exec_path[0] ? exec_path : argv[0], argv, envp);
  FAIL("%s", label);
}

/* ---------- the two stages ---------- */

static int child_pid = -1;

static void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* stage0 stays as the container's parent: forward signals, return its status. */
static int wait_child(pid_t pid) {
  child_pid = pid;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = forward_signal;
  sa.sa_flags = SA_RESTART;
  int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
  for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) sigaction(forwarded[i], &sa, NULL);
  if (sync_fd >= 0) close(sync_fd);
  sync_fd = -1;
  if (state_fd >= 0) close(state_fd);
  if (console_fd >= 0) close(console_fd);
  console_fd = -1;
  if (monitor_active()) return monitor_wait(pid, console_peer);
  if (console_peer >= 0) proxy_console(pid);
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return 255;
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

static void __attribute__((noreturn)) stay_and_wait(pid_t pid) {
  _exit(wait_child(pid));
}

static void run_plan(void) {
  for (size_t i = 0; i < nops; i++) {
    const struct op *op = &ops[i];
    cur_label = arg_str(op, 0);
    switch (op->code) {
    case OP_MKFIFO: {
      const char *path = arg_str(op, 1);
      if (mkfifo(path, (mode_t)arg_int(op, 2)) < 0) FAIL("%s", cur_label);
      chmod(path, (mode_t)arg_int(op, 2)); /* umask */
      break;
    }
    case OP_OPEN_STATEDIR:
      state_fd = open(arg_str(op, 1), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (state_fd < 0) FAIL("%s", cur_label);
      break;
    case OP_SETNS: {
      int fd = open(arg_str(op, 1), O_RDONLY | O_CLOEXEC);
      if (fd < 0) FAIL("%s", cur_label);
      /* the monitor stays in a network namespace it joins: it goes back before its exit command */
      if (((int)arg_int(op, 2) & CLONE_NEWNET) && monitor_host_netns < 0) monitor_host_netns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      if (setns(fd, (int)arg_int(op, 2)) < 0) FAIL("%s", cur_label);
      close(fd);
      break;
    }
    case OP_CLONE: {
      unsigned long flags = (unsigned long)arg_int(op, 1);
      int stay = (int)arg_int(op, 2);
      /* the child may speak on the sync channel only after its pid was announced */
      int gate[2];
      if (pipe2(gate, O_CLOEXEC) < 0) FAIL("%s", cur_label);
      pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
      if (pid < 0) FAIL("%s", cur_label);
      if (pid > 0) {
        close(gate[0]);
        int32_t p = pid;
        if (send_msg(MSG_CHILD_PID, &p, 4) < 0 || write_all(gate[1], "1", 1) < 0) {
          kill(pid, SIGKILL);
          _exit(1);
        }
        close(gate[1]);
        if (front_control >= 0) {
          /* front-end: the service talks to the child now; report its status when asked to stay */
          if (stay) {
            int32_t code = wait_child(pid);
            uint32_t hdr[3] = {W_CHILD_EXIT, 4, (uint32_t)code};
            write_all(front_control, hdr, sizeof(hdr));
          } else {
            if (console_fd >= 0) close(console_fd);
            console_fd = -1;
            close(sync_fd);
            sync_fd = -1;
            if (state_fd >= 0) close(state_fd);
            state_fd = -1;
          }
          return;
        }
        if (stay) stay_and_wait(pid);
        _exit(0);
      }
      close(gate[1]);
      monitor_in_child();
      front_in_stage0 = 0;
      if (front_control >= 0) close(front_control);
      front_control = -1;
      if (console_peer >= 0) close(console_peer);
      console_peer = -1;
      char go;
      if (read_all(gate[0], &go, 1) < 0) _exit(1);
      close(gate[0]);
      break;
    }
    case OP_SYNC: {
      int32_t point = (int32_t)arg_int(op, 1);
      if (send_msg(MSG_SYNC_REQ, &point, 4) < 0) FAIL("%s", cur_label);
      uint32_t hdr[2];
      int32_t ack = 0;
      if (read_all(sync_fd, hdr, 8) < 0) _exit(1); /* the caller went away: give up quietly */
      if (hdr[0] != MSG_SYNC_ACK || hdr[1] != 4 || read_all(sync_fd, &ack, 4) < 0 || ack != point)
        fail(EPROTO, "%s: unexpected message %u", cur_label, hdr[0]);
      break;
    }
    case OP_SET_ROOT: op_set_root(op); break;
    case OP_MOUNT: op_mount(op); break;
    case OP_MKDIR: op_mkdir(op); break;
    case OP_MKNOD: op_mknod(op); break;
    case OP_SYMLINK: op_symlink(op); break;
    case OP_PIVOT_ROOT: op_pivot_root(op); break;
    case OP_CHROOT: op_chroot(op); break;
    case OP_CHDIR:
      if (chdir(arg_str(op, 1)) < 0) FAIL("%s", cur_label);
      break;
    case OP_WRITE_FILE: op_write_file(op); break;
    case OP_SETHOSTNAME:
      if (sethostname(arg_str(op, 1), op->args[1].len) < 0) FAIL("%s", cur_label);
      break;
    case OP_SETDOMAINNAME:
      if (setdomainname(arg_str(op, 1), op->args[1].len) < 0) FAIL("%s", cur_label);
      break;
    case OP_SETRLIMIT: {
      struct rlimit rl = {.rlim_cur = (rlim_t)arg_int(op, 2), .rlim_max = (rlim_t)arg_int(op, 3)};
      if (setrlimit((int)arg_int(op, 1), &rl) < 0) FAIL("%s", cur_label);
      break;
    }
    case OP_MASK_PATH: op_mask_path(op); break;
    case OP_READONLY_PATH: op_readonly_path(op); break;
    case OP_REMOUNT_RO: op_remount_ro(op); break;
    case OP_UNSHARE:
      if (unshare((int)arg_int(op, 1)) < 0) FAIL("%s", cur_label);
      break;
    case OP_UMASK: umask((mode_t)arg_int(op, 1)); break;
    case OP_NO_NEW_PRIVS:
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) FAIL("%s", cur_label);
      break;
    case OP_CAPS_BOUNDING: op_caps_bounding(op); break;
    case OP_KEEPCAPS:
      if (prctl(PR_SET_KEEPCAPS, (unsigned long)arg_int(op, 1), 0, 0, 0) < 0) FAIL("%s", cur_label);
      break;
    case OP_SETUSER: op_setuser(op); break;
    case OP_CAPSET: op_capset(op); break;
    case OP_AMBIENT: op_ambient(op); break;
    case OP_LOOPBACK_UP: op_loopback_up(op); break;
    case OP_SETSID:
      if (setsid() < 0) FAIL("%s", cur_label);
      break;
    case OP_LOOKUP_EXEC: op_lookup_exec(op); break;
    case OP_OOM_SCORE_ADJ: {
      char buf[32];
      int n = snprintf(buf, sizeof(buf), "%lld", (long long)arg_int(op, 1));
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write_all(fd, buf, (size_t)n) < 0) FAIL("%s", cur_label);
      close(fd);
      break;
    }
    case OP_READY:
      if (send_msg(MSG_READY, NULL, 0) < 0) FAIL("%s", cur_label);
      close(sync_fd);
      sync_fd = -1;
      break;
    case OP_WAIT_START: op_wait_start(op); break;
    case OP_SECCOMP: op_seccomp(op); break;
    case OP_RUN_HOOK: op_run_hook(op); break;
    case OP_CONSOLE_SOCKET: op_console_socket(op); break;
    case OP_CONSOLE_PAIR: op_console_pair(op); break;
    case OP_SETUP_TTY: op_setup_tty(op); break;
    case OP_BPF_DEVICES: op_bpf_devices(op); break;
    case OP_PERSONALITY:
      if (personality((unsigned long)arg_int(op, 1)) < 0) FAIL("%s", cur_label);
      break;
    case OP_EXEC: op_exec(op); break;
    default: fail(EINVAL, "launch plan: unknown op %u", op->code);
    }
  }
  fail(EINVAL, "launch plan ended without exec");
}

/* CVE-2019-5736: a container must never be able to write to this binary through
 * /proc/<pid>/exe. Run from a sealed, read-only memfd copy of ourselves. */
static void ensure_sealed(char **argv, char **envp) {
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (self < 0) return;
  int seals = fcntl(self, F_GET_SEALS);
  if (seals >= 0 && (seals & F_SEAL_WRITE)) {
    close(self);
    return; /* already the sealed copy */
  }
  int mfd = (int)syscall(SYS_memfd_create, "berth-runtime", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) FAIL("create sealed copy of berth-runtime");
  char buf[65536];
  ssize_t n;
  while ((n = read(self, buf, sizeof(buf))) > 0)
    if (write_all(mfd, buf, (size_t)n) < 0) FAIL("copy berth-runtime");
  close(self);
  if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    FAIL("seal berth-runtime");
  syscall(SYS_execveat, mfd, "", argv, envp, AT_EMPTY_PATH);
  FAIL("re-execute sealed berth-runtime");
}

/* ---------- the warm front-end (protocol.h, "The warm path") ---------- */


static char front_home[4096]; /* the checkout or package: bin/, dist/, native/ */
static const char *front_prog = "berth-oci"; /* which command line: berth-oci or berth */

static int unix_connect(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
  if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

static void warm_socket_path(char *out, size_t len) {
  const char *env = getenv("BERTH_WARM_SOCKET");
  if (env && *env) {
    snprintf(out, len, "%s", env);
  } else if (getuid() == 0) {
    snprintf(out, len, "/run/berth/warm.sock");
  } else if (getenv("XDG_RUNTIME_DIR")) {
    snprintf(out, len, "%s/berth/warm.sock", getenv("XDG_RUNTIME_DIR"));
  } else {
    snprintf(out, len, "/tmp/berth-%u/warm.sock", getuid());
  }
}

/* The Direct path: the same command, answered by Node. */
static void __attribute__((noreturn)) exec_direct(int argc, char **argv) {
  char script[4200];
  snprintf(script, sizeof(script), "%s/bin/%s", front_home, front_prog);
  char **args = calloc((size_t)argc + 3, sizeof(char *));
  args[0] = "node";
  args[1] = script;
  for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
  execvp("node", args);
  dprintf(2, "%s: run node %s: %s\n", front_prog, script, strerror(errno));
  _exit(strcmp(front_prog, "berth") == 0 ? 125 : 1);
}

/* berth's --no-warm is a global flag: only before the verb (a container's command may say it) */
static int berth_no_warm(int argc, char **argv) {
  for (int i = 1; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--no-warm") == 0) return i;
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "--root") == 0 || strcmp(argv[i], "--runroot") == 0 || strcmp(argv[i], "--storage-driver") == 0) i++;
  }
  return 0;
}

/*
 * berth's requests are answered only by a service running this installation's current code
 * (it writes SOCKET.build: its bundle's path and mtime): another checkout's, or an older
 * build that would not know W_BERTH, could not answer them.
 */
static int service_is_ours(const char *sock) {
  char file[4200], want[4200], text[4400];
  snprintf(file, sizeof(file), "%s.build", sock);
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, text, sizeof(text) - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = 0;
  snprintf(want, sizeof(want), "%s/dist/src/cli/berth-warm.mjs", front_home);
  size_t wl = strlen(want);
  if (strncmp(text, want, wl) != 0 || text[wl] != '\n') return 0;
  struct stat st;
  if (stat(want, &st) < 0) return 0;
  long long mtime = (long long)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
  long long d = atoll(text + wl + 1) - mtime; /* Node's mtimeMs is a double: ±1 ms */
  return d >= -1 && d <= 1;
}

/* berth: signals are the command's (run passes them to the container); the service gets them */
static volatile int signal_control = -1;

static void signal_to_service(int sig) {
  int saved = errno;
  uint32_t frame[3] = {W_SIGNAL, 4, (uint32_t)sig};
  if (signal_control >= 0) write_all(signal_control, frame, sizeof(frame));
  errno = saved;
}

/* The request with fds 0, 1, 2 attached (SCM_RIGHTS), all in one message. */
static int send_with_stdio(int fd, uint32_t type, const void *payload, uint32_t len) {
  uint32_t hdr[2] = {type, len};
  struct iovec iov[2] = {{.iov_base = hdr, .iov_len = 8}, {.iov_base = (void *)payload, .iov_len = len}};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(3 * sizeof(int))];
  } control;
  memset(&control, 0, sizeof(control));
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = control.buf, .msg_controllen = sizeof(control.buf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(3 * sizeof(int));
  int fds[3] = {0, 1, 2};
  memcpy(CMSG_DATA(c), fds, sizeof(fds));
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  /* the rest of a large request (the kernel took the fds with the first byte) */
  size_t sent = (size_t)n;
  if (sent < 8) return write_all(fd, (char *)hdr + sent, 8 - sent) < 0 ? -1 : write_all(fd, payload, len);
  return write_all(fd, (const char *)payload + (sent - 8), len - (sent - 8));
}

/* Starts the warm service in its own session, detached from us. */
static void start_service(const char *sock) {
  pid_t pid = fork();
  if (pid < 0) return;
  if (pid > 0) {
    waitpid(pid, NULL, 0);
    return;
  }
  setsid();
  if (fork() != 0) _exit(0);
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  /* nothing of the first caller's may stay with the service: no fds, only berth's variables */
  syscall(SYS_close_range, 3, ~0U, 0);
  const char *keep[] = {"PATH", "HOME", "XDG_RUNTIME_DIR", "BERTH_WARM_IDLE_MS", "BERTH_DEBUG", NULL};
  char *env[8];
  int n = 0;
  for (int i = 0; keep[i]; i++) {
    const char *v = getenv(keep[i]);
    if (!v) continue;
    size_t l = strlen(keep[i]) + strlen(v) + 2;
    env[n] = malloc(l);
    snprintf(env[n++], l, "%s=%s", keep[i], v);
  }
  env[n] = NULL;
  char server[4200];
  snprintf(server, sizeof(server), "%s/dist/src/cli/berth-warm.mjs", front_home);
  char *argv[] = {"node", server, (char *)sock, NULL};
  execvpe("node", argv, env);
  _exit(127);
}

static int send_frame(int fd, uint32_t type, const void *payload, uint32_t len) {
  uint32_t hdr[2] = {type, len};
  if (write_all(fd, hdr, 8) < 0) return -1;
  return len ? write_all(fd, payload, len) : 0;
}

static int front_main(int argc, char **argv, char **envp) {
  int berth = strcmp(front_prog, "berth") == 0;
  for (int i = 1; i < argc; i++) {
    if (berth ? i == berth_no_warm(argc, argv) : strcmp(argv[i], "--no-warm") == 0) {
      /* drop the flag and take the Direct path */
      for (int j = i; j < argc; j++) argv[j] = argv[j + 1];
      exec_direct(argc - 1, argv);
    }
  }
  const char *no_warm = getenv("BERTH_NO_WARM");
  if (no_warm && (!berth || (*no_warm && strcmp(no_warm, "0") != 0))) exec_direct(argc, argv);
  if (berth) {
    /* fds 0, 1, 2 go to the service: a closed one is /dev/null, as Node would see it */
    for (int fd = 0; fd < 3; fd++)
      if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) exec_direct(argc, argv);
  }
  char sock[4096];
  warm_socket_path(sock, sizeof(sock));
  int ctl = unix_connect(sock);
  if (ctl < 0) {
    start_service(sock);
    /* Node needs ~100 ms to come up; wait a little rather than start a second Node */
    for (int i = 0; i < 150 && ctl < 0; i++) {
      usleep(10000);
      ctl = unix_connect(sock);
    }
    if (ctl < 0) exec_direct(argc, argv);
  }
  if (berth && !service_is_ours(sock)) {
    close(ctl);
    exec_direct(argc, argv);
  }
  /* keep fd 3 free for the sync channel */
  if (ctl <= SYNC_FD) {
    int moved = fcntl(ctl, F_DUPFD_CLOEXEC, 10);
    close(ctl);
    ctl = moved;
  }
  /* the request: argv, cwd, env */
  size_t cap = 65536, len = 0;
  char *req = malloc(cap);
#define PUT_BLOCK(fill)                                                                                   \
  do {                                                                                                    \
    size_t start = len;                                                                                   \
    len += 4;                                                                                             \
    fill;                                                                                                 \
    uint32_t n = (uint32_t)(len - start - 4);                                                             \
    memcpy(req + start, &n, 4);                                                                           \
  } while (0)
#define PUT(str)                                                                                          \
  do {                                                                                                    \
    size_t l = strlen(str) + 1;                                                                           \
    while (len + l + 8 > cap) req = realloc(req, cap *= 2);                                              \
    memcpy(req + len, str, l);                                                                            \
    len += l;                                                                                             \
  } while (0)
  PUT_BLOCK(for (int i = 1; i < argc; i++) PUT(argv[i]));
  char cwd[4096];
  if (!getcwd(cwd, sizeof(cwd))) snprintf(cwd, sizeof(cwd), "/");
  PUT_BLOCK({
    PUT(cwd);
    len--; /* no NUL after the cwd */
  });
  PUT_BLOCK(for (char **e = envp; *e; e++) if (strncmp(*e, "BERTH_FRONT_HOME=", 17) != 0) PUT(*e));
  if ((berth ? send_with_stdio(ctl, W_BERTH, req, (uint32_t)len) : send_frame(ctl, W_REQUEST, req, (uint32_t)len)) < 0) exec_direct(argc, argv);
  free(req);
  if (berth) {
    signal_control = ctl;
    static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    struct sigaction sa = {.sa_handler = signal_to_service, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++) sigaction(forwarded[i], &sa, NULL);
  } else {
    front_control = ctl;
  }

  for (;;) {
    uint32_t hdr[2];
    char *payload = NULL;
    if (read_all(ctl, hdr, 8) < 0 || !(payload = malloc(hdr[1] + 1)) || (hdr[1] && read_all(ctl, payload, hdr[1]) < 0)) {
      dprintf(2, "%s: the warm service went away\n", front_prog);
      return berth ? 125 : 1;
    }
    payload[hdr[1]] = 0;
    switch (hdr[0]) {
    case W_DIRECT:
      signal_control = -1;
      close(ctl);
      exec_direct(argc, argv);
    case W_OUTPUT:
      if (hdr[1] >= 1) write_all(payload[0] == 2 ? 2 : 1, payload + 1, hdr[1] - 1);
      break;
    case W_EXIT: {
      int32_t code = 1;
      if (hdr[1] >= 4) memcpy(&code, payload, 4);
      if (code < 0 && code > -65) {
        /* the command did not handle the signal: it ends us as it would have ended Node */
        signal_control = -1;
        signal(-code, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, -code);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(-code);
        return 128 - code;
      }
      return code;
    }
    case W_EXECUTE: {
      /* become the executor's stage0, with the caller's stdio */
      int sync = unix_connect(sock);
      if (sync < 0 || send_frame(sync, W_ATTACH, payload + 4, hdr[1] - 4) < 0) {
        dprintf(2, "berth-oci: attach to the warm service: %s\n", strerror(errno));
        return 1;
      }
      if (dup2(sync, SYNC_FD) < 0) return 1;
      if (sync != SYNC_FD) close(sync);
      sync_fd = SYNC_FD;
      front_in_stage0 = 1;
      if (setjmp(front_stage0) == 0) {
        read_plan(sync_fd);
        run_plan(); /* returns in stage0 once the child is on its way */
      } else if (sync_fd >= 0) {
        close(sync_fd);
        sync_fd = -1;
      }
      front_in_stage0 = 0;
      free(ops);
      ops = NULL;
      nops = 0;
      break;
    }
    default:
      break;
    }
    free(payload);
  }
}

int main(int argc, char **argv, char **envp) {
  const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
  if (argc >= 2 && strcmp(argv[1], "version") == 0 && strcmp(self, "berth") != 0) {
    printf("berth-runtime protocol %d\n", PLAN_VERSION);
    return 0;
  }
  if (strcmp(self, "berth-oci") == 0 || strcmp(self, "berth") == 0) {
    front_prog = strcmp(self, "berth") == 0 ? "berth" : "berth-oci";
    /* the home is found from our real path, before we re-execute from a sealed copy */
    const char *home = getenv("BERTH_FRONT_HOME");
    if (home) {
      snprintf(front_home, sizeof(front_home), "%s", home);
    } else {
      char exe[4096];
      ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
      if (n < 0) FAIL("find berth-runtime");
      exe[n] = 0;
      /* <home>/native/build/berth-runtime */
      snprintf(front_home, sizeof(front_home), "%s", dirname(dirname(dirname(exe))));
      setenv("BERTH_FRONT_HOME", front_home, 1);
    }
    signal(SIGPIPE, SIG_IGN);
    /* berth's front-end never runs a launch plan (monitors do): no sealed copy needed */
    if (strcmp(front_prog, "berth-oci") == 0) ensure_sealed(argv, environ);
    return front_main(argc, argv, environ);
  }
  /* the monitor going on outside any container: no sealed copy needed (monitor.c) */
  if (argc >= 2 && strcmp(argv[1], "monitor-resume") == 0) return monitor_resume(argc, argv);
  int monitor = argc >= 2 && strcmp(argv[1], "monitor") == 0;
  if (monitor && !getenv("BERTH_RUNTIME_DISK")) {
    char disk[4096];
    ssize_t n = readlink("/proc/self/exe", disk, sizeof(disk) - 1);
    if (n > 0 && disk[0] == '/') {
      disk[n] = 0;
      setenv("BERTH_RUNTIME_DISK", disk, 1);
    }
  }
  if (argc < 2 || (strcmp(argv[1], "exec") != 0 && !monitor)) {
    fprintf(stderr, "usage: berth-runtime exec   (plan and sync channel on fd 3)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  ensure_sealed(argv, environ); /* environ: setenv above may have moved it from envp */
  if (monitor && monitor_setup(argc, argv) < 0) return 2;
  read_plan(sync_fd);
  run_plan();
  return 1;
}
