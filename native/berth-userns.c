// berth-userns: the user namespace an unprivileged berth runs in (README "Unprivileged berth").
//
//   berth-userns PIDFILE UID SUBUID SUBUIDS GID SUBGID SUBGIDS -- PROGRAM [ARG...]
//
// Under a lock on PIDFILE.lock: if PIDFILE names a live pause process ("berth-pause"), join
// it; otherwise fork one that unshares a user and a mount namespace, have newuidmap and
// newgidmap map namespace ids 0..SUBUIDS-1 to the caller's /etc/subuid range and id SUBUIDS
// to the caller itself (as LXC's idmap: the container's root is the range's first id), write
// its pid to PIDFILE and join it. Joining is setns(user), setns(mnt), becoming uid/gid 0
// there, and exec'ing PROGRAM: every berth call shares the namespace, so its overlay mounts
// and its chowned files persist from one call to the next. The pause process lives on in
// its own session until it is killed. Errors: one line on stderr, exit 125.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAUSE_NAME "berth-pause"

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, "berth: ");
  fprintf(stderr, fmt, arg, strerror(errno));
  fputc('\n', stderr);
  exit(125);
}

/** The pid in PIDFILE if it is a live pause process of ours, else 0. */
static pid_t live_pause(const char *pidfile) {
  FILE *f = fopen(pidfile, "r");
  if (!f) return 0;
  long pid = 0;
  if (fscanf(f, "%ld", &pid) != 1) pid = 0;
  fclose(f);
  if (pid <= 0) return 0;
  char path[64], comm[32] = "";
  snprintf(path, sizeof path, "/proc/%ld/comm", pid);
  f = fopen(path, "r");
  if (!f) return 0;
  if (!fgets(comm, sizeof comm, f)) comm[0] = 0;
  fclose(f);
  comm[strcspn(comm, "\n")] = 0;
  return strcmp(comm, PAUSE_NAME) == 0 ? (pid_t)pid : 0;
}

/** Runs newuidmap/newgidmap PID 0 SUB COUNT COUNT ID 1; 0 on success. */
static int map_ids(const char *tool, pid_t pid, const char *id, const char *sub, const char *count) {
  char spid[24];
  snprintf(spid, sizeof spid, "%d", (int)pid);
  pid_t c = fork();
  if (c < 0) return -1;
  if (c == 0) {
    execlp(tool, tool, spid, "0", sub, count, count, id, "1", (char *)NULL);
    fprintf(stderr, "berth: %s: cannot run it: %s (install Debian's uidmap package)\n", tool, strerror(errno));
    _exit(127);
  }
  int st;
  while (waitpid(c, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static pid_t make_pause(char **a) {
  int up[2], down[2];
  if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) die("pipe: %s%s", "");
  pid_t pid = fork();
  if (pid < 0) die("fork: %s%s", "");
  if (pid == 0) {
    char c = 0;
    setsid();
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) c = 1;
    if (write(up[1], &c, 1) != 1 || c) _exit(1);
    if (read(down[0], &c, 1) != 1 || c) _exit(1);
    prctl(PR_SET_NAME, PAUSE_NAME, 0, 0, 0);
    if (chdir("/") < 0) _exit(1);
    int null = open("/dev/null", O_RDWR);
    for (int fd = 0; fd < 3; fd++) dup2(null, fd);
    for (int fd = 3; fd < 1024; fd++) close(fd);
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGTERM);
    sigdelset(&all, SIGKILL);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (;;) pause();
  }
  close(up[1]);
  close(down[0]);
  char c = 1;
  if (read(up[0], &c, 1) != 1 || c) {
    waitpid(pid, NULL, 0);
    errno = EPERM;
    die("cannot create a user namespace%s: %s", "");
  }
  int ok = map_ids("newuidmap", pid, a[1], a[2], a[3]) == 0 && map_ids("newgidmap", pid, a[4], a[5], a[6]) == 0;
  c = ok ? 0 : 1;
  if (write(down[1], &c, 1) != 1) ok = 0;
  if (!ok) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "berth: newuidmap/newgidmap could not map the /etc/subuid and /etc/subgid ranges (see above)\n");
    exit(125);
  }
  return pid;
}

static void join(pid_t pid) {
  static const char *const kinds[] = {"user", "mnt"};
  int fds[2];
  for (int i = 0; i < 2; i++) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, kinds[i]);
    fds[i] = open(path, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) die("%s: %s", path);
  }
  for (int i = 0; i < 2; i++)
    if (setns(fds[i], 0) < 0) die("setns %s: %s", kinds[i]);
  if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0) die("become root in the user namespace%s: %s", "");
}

int main(int argc, char **argv) {
  if (argc < 10 || strcmp(argv[8], "--") != 0) {
    fprintf(stderr, "usage: berth-userns PIDFILE UID SUBUID SUBUIDS GID SUBGID SUBGIDS -- PROGRAM [ARG...]\n");
    return 125;
  }
  char **a = argv + 1;
  char lockpath[4096];
  snprintf(lockpath, sizeof lockpath, "%s.lock", a[0]);
  int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0 || flock(lock, LOCK_EX) < 0) die("%s: %s", lockpath);
  pid_t pid = live_pause(a[0]);
  if (!pid) {
    pid = make_pause(a);
    char tmp[4096], text[24];
    snprintf(tmp, sizeof tmp, "%s.tmp", a[0]);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int n = snprintf(text, sizeof text, "%d\n", (int)pid);
    if (fd < 0 || write(fd, text, n) != n || close(fd) < 0 || rename(tmp, a[0]) < 0) {
      kill(pid, SIGKILL);
      die("%s: %s", a[0]);
    }
  }
  join(pid);
  close(lock);
  execvp(argv[9], argv + 9);
  die("%s: %s", argv[9]);
  return 125;
}
