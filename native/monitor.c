/*
 * The per-container monitor: berth-runtime's second mode (DESIGN.md, the job conmon does).
 *
 *   berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES [EXIT_COMMAND...]   (plan, sync channel on fd 3)
 *
 * It runs the launch plan as `exec` does, with the container's stdout and stderr on pipes,
 * and stays as the container's parent after the engine has gone: it copies both streams
 * into LOG in Docker's json-file format ({"log","stream","time"} lines, lines over 16 KiB
 * split, rotated at MAX_SIZE bytes keeping MAX_FILES files; 0 means no limit), reaps the
 * container, and writes EXIT ({"exitCode","signal","finishedAt"}) through a temporary name,
 * so a reader sees either nothing or the whole record, then execs EXIT_COMMAND (the engine's
 * cleanup) in its place. It holds no policy: the paths, limits and command come from TypeScript.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monitor.h"

#define LINE_MAX_BYTES 16384 /* Docker splits longer lines into partial entries */

struct stream {
  const char *name;
  int fd;
  char buf[LINE_MAX_BYTES];
  size_t len;
};

static struct {
  int active;
  const char *log_path;
  const char *exit_path;
  long long max_size;
  int max_files;
  char **exit_command;
  const char *disk_path; /* this program on disk: the monitor goes on from it once the container runs */
  int exec_r, exec_w;    /* closed by the container's execve: it runs its own program now */
  int log_fd;
  long long log_size;
  struct stream out, err;
} mon;

static int write_full(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void open_log(void) {
  mon.log_fd = open(mon.log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  struct stat st;
  mon.log_size = (mon.log_fd >= 0 && fstat(mon.log_fd, &st) == 0) ? st.st_size : 0;
}

/* LOG -> LOG.1 -> … -> LOG.<MAX_FILES-1>; with one file, LOG starts again empty. */
static void rotate(void) {
  if (mon.log_fd >= 0) close(mon.log_fd);
  char from[4096], to[4096];
  for (int i = mon.max_files - 1; i >= 1; i--) {
    if (i == 1) snprintf(from, sizeof(from), "%s", mon.log_path);
    else snprintf(from, sizeof(from), "%s.%d", mon.log_path, i - 1);
    snprintf(to, sizeof(to), "%s.%d", mon.log_path, i);
    rename(from, to);
  }
  if (mon.max_files <= 1) {
    int fd = open(mon.log_path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd >= 0) close(fd);
  }
  open_log();
}

static void now_rfc3339(char *out, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, len - n, ".%09ldZ", ts.tv_nsec);
}

/* One json-file entry. Bytes are copied as they are (UTF-8 passes through); quotes,
 * backslashes and control characters are escaped. */
static void emit(const char *stream, const char *data, size_t len) {
  static char line[LINE_MAX_BYTES * 6 + 128];
  char when[64];
  now_rfc3339(when, sizeof(when));
  size_t n = 0;
  n += (size_t)snprintf(line + n, sizeof(line) - n, "{\"log\":\"");
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c == '"' || c == '\\') {
      line[n++] = '\\';
      line[n++] = (char)c;
    } else if (c == '\n') {
      line[n++] = '\\';
      line[n++] = 'n';
    } else if (c == '\r') {
      line[n++] = '\\';
      line[n++] = 'r';
    } else if (c == '\t') {
      line[n++] = '\\';
      line[n++] = 't';
    } else if (c < 0x20 || c == 0x7f) {
      n += (size_t)snprintf(line + n, sizeof(line) - n, "\\u%04x", c);
    } else {
      line[n++] = (char)c;
    }
  }
  n += (size_t)snprintf(line + n, sizeof(line) - n, "\",\"stream\":\"%s\",\"time\":\"%s\"}\n", stream, when);
  if (mon.max_size > 0 && mon.log_size > 0 && mon.log_size + (long long)n > mon.max_size) rotate();
  if (mon.log_fd >= 0 && write_full(mon.log_fd, line, n) == 0) mon.log_size += (long long)n;
}

/* Emits every whole line in the buffer; a full buffer without a newline goes out as a partial entry. */
static void drain_lines(struct stream *s, int eof) {
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->buf[i] == '\n') {
      emit(s->name, s->buf + start, i + 1 - start);
      start = i + 1;
    }
  }
  if (start < s->len && (eof || (start == 0 && s->len == sizeof(s->buf)))) {
    emit(s->name, s->buf + start, s->len - start);
    start = s->len;
  }
  memmove(s->buf, s->buf + start, s->len - start);
  s->len -= start;
}

/* Reads what the stream has; closes it at end of file. */
static void pump(struct stream *s) {
  ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) {
    drain_lines(s, 1);
    close(s->fd);
    s->fd = -1;
    return;
  }
  s->len += (size_t)r;
  drain_lines(s, 0);
}

static void write_exit(int status) {
  char when[64], body[256], tmp[4096];
  now_rfc3339(when, sizeof(when));
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
  int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  int n = snprintf(body, sizeof(body), "{\"exitCode\":%d,\"signal\":%d,\"finishedAt\":\"%s\"}\n", code, sig, when);
  snprintf(tmp, sizeof(tmp), "%s.tmp", mon.exit_path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  if (write_full(fd, body, (size_t)n) == 0 && fsync(fd) == 0) {
    close(fd);
    rename(tmp, mon.exit_path);
    return;
  }
  close(fd);
  unlink(tmp);
}

int monitor_setup(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES [EXIT_COMMAND...]   (plan on fd 3)\n");
    return -1;
  }
  mon.log_path = argv[2];
  mon.exit_path = argv[3];
  mon.max_size = atoll(argv[4]);
  mon.max_files = atoi(argv[5]);
  if (mon.max_files < 1) mon.max_files = 1;
  mon.exit_command = argc > 6 ? argv + 6 : NULL;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
    perror("berth-runtime monitor: pipe");
    return -1;
  }
  /* the container inherits the write ends as its stdout and stderr; we keep the read ends */
  if (dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) {
    perror("berth-runtime monitor: dup2");
    return -1;
  }
  close(out[1]);
  close(err[1]);
  int ex[2];
  if (pipe2(ex, O_CLOEXEC) < 0) {
    perror("berth-runtime monitor: pipe");
    return -1;
  }
  mon.exec_r = ex[0];
  mon.exec_w = ex[1];
  mon.disk_path = getenv("BERTH_RUNTIME_DISK");
  mon.out = (struct stream){.name = "stdout", .fd = out[0]};
  mon.err = (struct stream){.name = "stderr", .fd = err[0]};
  open_log();
  if (mon.log_fd < 0) {
    perror("berth-runtime monitor: open log");
    return -1;
  }
  /* block SIGCHLD now, so that an early exit is not missed before the signalfd exists */
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  mon.active = 1;
  return 0;
}

int monitor_active(void) { return mon.active; }

/* In the child, before the plan goes on: SIGCHLD unblocked again (the container must see it). */
void monitor_in_child(void) {
  if (!mon.active) return;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_UNBLOCK, &chld, NULL);
  if (mon.out.fd >= 0) close(mon.out.fd);
  if (mon.err.fd >= 0) close(mon.err.fd);
  if (mon.log_fd >= 0) close(mon.log_fd);
  if (mon.exec_r >= 0) close(mon.exec_r);
  /* exec_w stays, close-on-exec: the container's execve closes it */
}

/*
 * Once the container runs its own program, nothing of ours is inside it, so the monitor
 * goes on from the program on disk instead of its sealed private copy: the disk's pages are
 * shared by every monitor, the copy's are not (about 0.8 MB each). The state travels in argv;
 * SIGCHLD stays blocked across execve, so no exit is missed.
 */
static void resume_from_disk(pid_t pid) {
  if (!mon.disk_path) return;
  drain_lines(&mon.out, 1);
  drain_lines(&mon.err, 1);
  char spid[16], sout[16], serr[16], ssize[32], sfiles[16];
  snprintf(spid, sizeof(spid), "%d", pid);
  snprintf(sout, sizeof(sout), "%d", mon.out.fd);
  snprintf(serr, sizeof(serr), "%d", mon.err.fd);
  snprintf(ssize, sizeof(ssize), "%lld", mon.max_size);
  snprintf(sfiles, sizeof(sfiles), "%d", mon.max_files);
  char *argv[64];
  int n = 0;
  argv[n++] = (char *)mon.disk_path;
  argv[n++] = "monitor-resume";
  argv[n++] = spid;
  argv[n++] = sout;
  argv[n++] = serr;
  argv[n++] = (char *)mon.log_path;
  argv[n++] = (char *)mon.exit_path;
  argv[n++] = ssize;
  argv[n++] = sfiles;
  for (char **c = mon.exit_command; c && *c && n < 63; c++) argv[n++] = *c;
  argv[n] = NULL;
  for (int fd = 0; fd < 2; fd++) {
    int f = fd == 0 ? mon.out.fd : mon.err.fd;
    if (f >= 0) fcntl(f, F_SETFD, 0);
  }
  extern char **environ;
  execve(mon.disk_path, argv, environ);
  /* could not: go on as we are */
  for (int fd = 0; fd < 2; fd++) {
    int f = fd == 0 ? mon.out.fd : mon.err.fd;
    if (f >= 0) fcntl(f, F_SETFD, FD_CLOEXEC);
  }
}

int monitor_resume(int argc, char **argv) {
  if (argc < 9) {
    fprintf(stderr, "usage: berth-runtime monitor-resume PID OUT_FD ERR_FD LOG EXIT MAX_SIZE MAX_FILES [EXIT_COMMAND...]\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[2]);
  mon.out = (struct stream){.name = "stdout", .fd = atoi(argv[3])};
  mon.err = (struct stream){.name = "stderr", .fd = atoi(argv[4])};
  fcntl(mon.out.fd, F_SETFD, FD_CLOEXEC);
  fcntl(mon.err.fd, F_SETFD, FD_CLOEXEC);
  mon.log_path = argv[5];
  mon.exit_path = argv[6];
  mon.max_size = atoll(argv[7]);
  mon.max_files = atoi(argv[8]) < 1 ? 1 : atoi(argv[8]);
  mon.exit_command = argc > 9 ? argv + 9 : NULL;
  mon.exec_r = mon.exec_w = -1;
  mon.disk_path = NULL;
  open_log();
  mon.active = 1;
  return monitor_wait(pid);
}

int monitor_wait(pid_t pid) {
  /* our own copies of the write ends go, so the pipes end when the container's do */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 1);
    dup2(devnull, 2);
    close(devnull);
  }
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  int status = 0, exited = 0;
  if (mon.exec_w >= 0) close(mon.exec_w);
  mon.exec_w = -1;
  for (;;) {
    if (!exited) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) exited = 1;
    }
    if (exited && mon.out.fd < 0 && mon.err.fd < 0) break;
    struct pollfd p[4] = {{.fd = mon.out.fd, .events = POLLIN}, {.fd = mon.err.fd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}, {.fd = mon.exec_r, .events = POLLIN}};
    /* once the init is gone, a process it left holding the pipes gets one quiet second */
    int n = poll(p, 4, exited ? 1000 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    if (p[0].revents) pump(&mon.out);
    if (p[1].revents) pump(&mon.err);
    if (p[2].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
      }
    }
    if (p[3].revents) {
      close(mon.exec_r);
      mon.exec_r = -1;
      if (!exited && waitpid(pid, &status, WNOHANG) == 0) {
        close(sfd);
        resume_from_disk(pid);
        sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
      } else {
        exited = 1;
      }
    }
  }
  if (mon.out.fd >= 0) drain_lines(&mon.out, 1);
  if (mon.err.fd >= 0) drain_lines(&mon.err, 1);
  if (!exited) waitpid(pid, &status, 0);
  write_exit(status);
  if (mon.log_fd >= 0) close(mon.log_fd);
  if (mon.exit_command) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    extern char **environ;
    execve(mon.exit_command[0], mon.exit_command, environ);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}
