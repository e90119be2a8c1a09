/*
 * The per-container monitor: berth-runtime's second mode (DESIGN.md, the job conmon does).
 *
 *   berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES ATTACH OPEN_STDIN [EXIT_COMMAND...]
 *                                                                 (plan, sync channel on fd 3)
 *
 * It runs the launch plan as `exec` does, with the container's stdout and stderr on pipes,
 * and stays as the container's parent after the engine has gone: it copies both streams
 * into LOG in Docker's json-file format ({"log","stream","time"} lines, lines over 16 KiB
 * split, rotated at MAX_SIZE bytes keeping MAX_FILES files; 0 means no limit), reaps the
 * container, and writes EXIT ({"exitCode","signal","finishedAt"}) through a temporary name,
 * so a reader sees either nothing or the whole record, then execs EXIT_COMMAND (the engine's
 * cleanup) in its place. It holds no policy: the paths, limits and command come from TypeScript.
 *
 * A container made with a terminal sends its pty master here (CONSOLE_PAIR): the monitor holds
 * it, logs what comes out as stdout, and sets its window size when a client asks. ATTACH is
 * the attach socket of monitor.h: clients get the output live and send input; with OPEN_STDIN
 * the container's stdin is a pipe the monitor holds open until a client closes it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libgen.h>

#include "monitor.h"

#define LINE_MAX_BYTES 16384 /* Docker splits longer lines into partial entries */

struct stream {
  const char *name;
  int fd;
  int kmsg; /* records as /dev/kmsg takes them ("<priority>text"): the priority is dropped */
  char buf[LINE_MAX_BYTES];
  size_t len;
};

/* an attached client: its frame being read */
struct client {
  int fd;
  uint32_t hdr[2];
  size_t hdr_got;
  uint32_t left;      /* payload bytes still to read */
  unsigned char small[8]; /* RESIZE's payload */
  size_t small_got;
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
  struct stream out, err, tty;
  struct stream journal; /* a system container's journal, forwarded by journald to its /dev/kmsg (a FIFO) */
  const char *attach_path;
  int listen_fd;
  int open_stdin;      /* input is wanted (-i) */
  int stdin_w;         /* the container's stdin pipe, until closed */
  int console_peer;    /* where the pty master arrives */
  unsigned short rows, cols; /* the last size asked for */
  struct client clients[ATTACH_MAX_CLIENTS];
  char in[4096];       /* input not yet written to the container */
  size_t in_len, in_off;
} mon; /* zeroed (bss, not data: its buffers cost nothing until used); fds set to -1 at setup */

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

/* A kmsg record's "<N>" priority prefix, if the line has one: its length. */
static size_t priority_prefix(const struct stream *s, const char *p, size_t n) {
  if (!s->kmsg || n < 3 || p[0] != '<') return 0;
  size_t i = 1;
  while (i < n && i < 5 && p[i] >= '0' && p[i] <= '9') i++;
  return i > 1 && i < n && p[i] == '>' ? i + 1 : 0;
}

static void broadcast(uint32_t type, const char *data, size_t len);

/* Emits every whole line in the buffer; a full buffer without a newline goes out as a partial entry. */
static void drain_lines(struct stream *s, int eof) {
  size_t start = 0;
  for (size_t i = 0; i < s->len; i++) {
    if (s->buf[i] == '\n') {
      size_t skip = priority_prefix(s, s->buf + start, i + 1 - start);
      emit(s->name, s->buf + start + skip, i + 1 - start - skip);
      /* the journal goes to attached clients a line at a time, but not onto a terminal's screen */
      if (s->kmsg && mon.tty.fd < 0) broadcast(ATTACH_STDOUT, s->buf + start + skip, i + 1 - start - skip);
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

/* ---------- attached clients ---------- */

static void drop_client(struct client *c) {
  if (c->fd >= 0) close(c->fd);
  memset(c, 0, sizeof(*c));
  c->fd = -1;
}

/* One frame to every client; a client that cannot take it within the socket's timeout goes. */
static void broadcast(uint32_t type, const char *data, size_t len) {
  uint32_t hdr[2] = {type, (uint32_t)len};
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    struct client *c = &mon.clients[i];
    if (c->fd < 0) continue;
    if (write_full(c->fd, (const char *)hdr, sizeof(hdr)) < 0 || write_full(c->fd, data, len) < 0) drop_client(c);
  }
}

static void accept_client(void) {
  int fd = accept4(mon.listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0) return;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (mon.clients[i].fd >= 0) continue;
    /* a client that stops reading holds the container's output back for at most this long */
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    memset(&mon.clients[i], 0, sizeof(mon.clients[i]));
    mon.clients[i].fd = fd;
    return;
  }
  close(fd); /* full */
}

static void apply_size(void) {
  if (mon.tty.fd < 0 || !mon.rows || !mon.cols) return;
  struct winsize ws = {.ws_row = mon.rows, .ws_col = mon.cols};
  ioctl(mon.tty.fd, TIOCSWINSZ, &ws);
}

static void close_stdin_pipe(void) {
  if (mon.stdin_w >= 0) close(mon.stdin_w);
  mon.stdin_w = -1;
}

/* Writes what it can of the pending input; what the container has not taken yet waits. */
static void flush_input(int block) {
  while (mon.in_off < mon.in_len) {
    int target = mon.tty.fd >= 0 ? mon.tty.fd : mon.stdin_w;
    if (target < 0) break;
    ssize_t w = write(target, mon.in + mon.in_off, mon.in_len - mon.in_off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      if (!block) return;
      struct pollfd p = {.fd = target, .events = POLLOUT};
      if (poll(&p, 1, 1000) <= 0) break;
      continue;
    }
    if (w < 0) {
      if (target == mon.stdin_w) close_stdin_pipe(); /* nobody reads it any more */
      break;
    }
    mon.in_off += (size_t)w;
  }
  mon.in_len = mon.in_off = 0;
}

static void frame_done(struct client *c) {
  if (c->hdr[0] == ATTACH_CLOSE_STDIN && mon.open_stdin) {
    if (mon.tty.fd >= 0) {
      flush_input(1);
      write_full(mon.tty.fd, "\x04", 1); /* VEOF for the program reading the terminal */
    } else {
      close_stdin_pipe();
    }
  } else if (c->hdr[0] == ATTACH_RESIZE && c->small_got == 8) {
    uint32_t rc[2];
    memcpy(rc, c->small, 8);
    mon.rows = (unsigned short)rc[0];
    mon.cols = (unsigned short)rc[1];
    apply_size();
  }
  c->hdr_got = 0;
  c->small_got = 0;
}

/* Reads a piece of the client's current frame (poll said there is something). */
static void client_read(struct client *c) {
  ssize_t r;
  if (c->hdr_got < 8) {
    r = read(c->fd, (char *)c->hdr + c->hdr_got, 8 - c->hdr_got);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (r <= 0) return drop_client(c);
    c->hdr_got += (size_t)r;
    if (c->hdr_got < 8) return;
    c->left = c->hdr[1];
    if (c->left == 0) frame_done(c);
    return;
  }
  if (c->hdr[0] == ATTACH_STDIN) {
    size_t want = c->left < sizeof(mon.in) ? c->left : sizeof(mon.in);
    r = read(c->fd, mon.in, want);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (r <= 0) return drop_client(c);
    c->left -= (uint32_t)r;
    if (mon.open_stdin) {
      mon.in_len = (size_t)r;
      mon.in_off = 0;
      flush_input(0);
    }
  } else {
    char tmp[256];
    r = read(c->fd, tmp, c->left < sizeof(tmp) ? c->left : sizeof(tmp));
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (r <= 0) return drop_client(c);
    for (ssize_t i = 0; i < r && c->small_got < sizeof(c->small); i++) c->small[c->small_got++] = (unsigned char)tmp[i];
    c->left -= (uint32_t)r;
  }
  if (c->left == 0) frame_done(c);
}

/* ---------- output ---------- */

/* Reads what the stream has; closes it at end of file. */
static void pump(struct stream *s) {
  ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
  if (r < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (r <= 0) { /* a pty master reads EIO once every slave is closed */
    drain_lines(s, 1);
    close(s->fd);
    s->fd = -1;
    return;
  }
  if (!s->kmsg) broadcast(s == &mon.err ? ATTACH_STDERR : ATTACH_STDOUT, s->buf + s->len, (size_t)r);
  s->len += (size_t)r;
  drain_lines(s, 0);
}

/* The journal's last records: what the FIFO holds now is all there is (we hold it open, so it never ends). */
static void drain_journal(void) {
  struct stream *s = &mon.journal;
  while (s->fd >= 0) {
    ssize_t r = read(s->fd, s->buf + s->len, sizeof(s->buf) - s->len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    s->len += (size_t)r;
    drain_lines(s, 0);
  }
  drain_lines(s, 1);
}

/* The pty master, sent by the child from SETUP_TTY. */
static void receive_master(void) {
  int fd = recv_fd(mon.console_peer);
  close(mon.console_peer);
  mon.console_peer = -1;
  if (fd < 0) return; /* the child failed before its terminal */
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  mon.tty = (struct stream){.name = "stdout", .fd = fd};
  close_stdin_pipe(); /* the terminal is the container's stdin now */
  apply_size();
}

/* The attach socket, bound through its directory so that a long run dir still fits sun_path. */
static int listen_attach(const char *path) {
  char dir[4096];
  snprintf(dir, sizeof(dir), "%s", path);
  int dfd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return -1;
  snprintf(dir, sizeof(dir), "%s", path);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/%s", dfd, basename(dir));
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
    if (fd >= 0) close(fd);
    close(dfd);
    return -1;
  }
  close(dfd);
  return fd;
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

int monitor_host_netns = -1;

int monitor_setup(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES ATTACH OPEN_STDIN [EXIT_COMMAND...]   (plan on fd 3)\n");
    return -1;
  }
  mon.log_path = argv[2];
  mon.exit_path = argv[3];
  mon.max_size = atoll(argv[4]);
  mon.max_files = atoi(argv[5]);
  if (mon.max_files < 1) mon.max_files = 1;
  mon.listen_fd = mon.stdin_w = mon.console_peer = mon.tty.fd = mon.journal.fd = -1;
  mon.attach_path = argv[6];
  mon.open_stdin = strcmp(argv[7], "1") == 0;
  mon.exit_command = argc > 8 ? argv + 8 : NULL;
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) mon.clients[i].fd = -1;
  if (mon.open_stdin) {
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0 || dup2(in[0], 0) < 0) {
      perror("berth-runtime monitor: stdin pipe");
      return -1;
    }
    close(in[0]);
    mon.stdin_w = in[1];
    fcntl(mon.stdin_w, F_SETFL, O_NONBLOCK);
  }
  mon.listen_fd = listen_attach(mon.attach_path);
  if (mon.listen_fd < 0) {
    fprintf(stderr, "berth-runtime monitor: attach socket %s: %s\n", mon.attach_path, strerror(errno));
    return -1;
  }
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
  /* read and write: the FIFO never reads end-of-file while journald opens and closes it */
  const char *journal = getenv("BERTH_MONITOR_JOURNAL");
  if (journal) mon.journal = (struct stream){.name = "stdout", .fd = open(journal, O_RDWR | O_NONBLOCK | O_CLOEXEC), .kmsg = 1};
  unsetenv("BERTH_MONITOR_JOURNAL");
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
  if (mon.listen_fd >= 0) close(mon.listen_fd);
  if (mon.stdin_w >= 0) close(mon.stdin_w);
  if (mon.journal.fd >= 0) close(mon.journal.fd);
  /* exec_w stays, close-on-exec: the container's execve closes it */
}

/* fds the resumed monitor takes over: close-on-exec off for the execve, on again after */
static void keep_fds(int keep) {
  int fds[6 + ATTACH_MAX_CLIENTS] = {mon.out.fd, mon.err.fd, mon.tty.fd, mon.listen_fd, mon.stdin_w, mon.journal.fd};
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) fds[6 + i] = mon.clients[i].fd;
  for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
    if (fds[i] >= 0) fcntl(fds[i], F_SETFD, keep ? 0 : FD_CLOEXEC);
}

/*
 * Once the container runs its own program, nothing of ours is inside it, so the monitor
 * goes on from the program on disk instead of its sealed private copy: the disk's pages are
 * shared by every monitor, the copy's are not (about 0.8 MB each). The state travels in argv
 * (STATE: "tty,listen,stdin_w,open_stdin,rows,cols[,client...]"); SIGCHLD stays blocked
 * across execve, so no exit is missed.
 */
static void resume_from_disk(pid_t pid) {
  if (!mon.disk_path) return;
  drain_lines(&mon.out, 1);
  drain_lines(&mon.err, 1);
  drain_lines(&mon.tty, 1);
  drain_lines(&mon.journal, 1);
  flush_input(1);
  /* a client's frame is never split across the two programs: finish what was begun */
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    struct client *c = &mon.clients[i];
    for (int tries = 0; c->fd >= 0 && c->hdr_got > 0 && tries < 64; tries++) {
      client_read(c);
      flush_input(1);
    }
  }
  char spid[16], sout[16], serr[16], ssize[32], sfiles[16], state[64 + 12 * ATTACH_MAX_CLIENTS];
  snprintf(spid, sizeof(spid), "%d", pid);
  snprintf(sout, sizeof(sout), "%d", mon.out.fd);
  snprintf(serr, sizeof(serr), "%d", mon.err.fd);
  snprintf(ssize, sizeof(ssize), "%lld", mon.max_size);
  snprintf(sfiles, sizeof(sfiles), "%d", mon.max_files);
  int k = snprintf(state, sizeof(state), "%d,%d,%d,%d,%u,%u", mon.tty.fd, mon.listen_fd, mon.stdin_w, mon.open_stdin, mon.rows, mon.cols);
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
    if (mon.clients[i].fd >= 0) k += snprintf(state + k, sizeof(state) - (size_t)k, ",%d", mon.clients[i].fd);
  char *argv[72];
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
  argv[n++] = (char *)mon.attach_path;
  argv[n++] = state;
  for (char **c = mon.exit_command; c && *c && n < 71; c++) argv[n++] = *c;
  argv[n] = NULL;
  keep_fds(1);
  char snetns[16];
  if (monitor_host_netns >= 0) {
    fcntl(monitor_host_netns, F_SETFD, 0);
    snprintf(snetns, sizeof(snetns), "%d", monitor_host_netns);
    setenv("BERTH_MONITOR_NETNS_FD", snetns, 1);
  }
  char sjournal[16];
  if (mon.journal.fd >= 0) {
    snprintf(sjournal, sizeof(sjournal), "%d", mon.journal.fd);
    setenv("BERTH_MONITOR_JOURNAL_FD", sjournal, 1);
  }
  extern char **environ;
  execve(mon.disk_path, argv, environ);
  /* could not: go on as we are */
  keep_fds(0);
  unsetenv("BERTH_MONITOR_NETNS_FD");
  unsetenv("BERTH_MONITOR_JOURNAL_FD");
  if (monitor_host_netns >= 0) fcntl(monitor_host_netns, F_SETFD, FD_CLOEXEC);
}

int monitor_resume(int argc, char **argv) {
  if (argc < 11) {
    fprintf(stderr, "usage: berth-runtime monitor-resume PID OUT_FD ERR_FD LOG EXIT MAX_SIZE MAX_FILES ATTACH STATE [EXIT_COMMAND...]\n");
    return 2;
  }
  pid_t pid = (pid_t)atoi(argv[2]);
  mon.out = (struct stream){.name = "stdout", .fd = atoi(argv[3])};
  mon.err = (struct stream){.name = "stderr", .fd = atoi(argv[4])};
  mon.log_path = argv[5];
  mon.exit_path = argv[6];
  mon.max_size = atoll(argv[7]);
  mon.max_files = atoi(argv[8]) < 1 ? 1 : atoi(argv[8]);
  mon.attach_path = argv[9];
  int tty = -1, rows = 0, cols = 0, nclients = 0;
  char *save = NULL;
  int field = 0;
  for (char *t = strtok_r(argv[10], ",", &save); t; t = strtok_r(NULL, ",", &save), field++) {
    int v = atoi(t);
    switch (field) {
    case 0: tty = v; break;
    case 1: mon.listen_fd = v; break;
    case 2: mon.stdin_w = v; break;
    case 3: mon.open_stdin = v; break;
    case 4: rows = v; break;
    case 5: cols = v; break;
    default:
      if (nclients < ATTACH_MAX_CLIENTS) mon.clients[nclients++] = (struct client){.fd = v};
    }
  }
  for (int i = nclients; i < ATTACH_MAX_CLIENTS; i++) mon.clients[i].fd = -1;
  mon.tty = (struct stream){.name = "stdout", .fd = tty};
  mon.rows = (unsigned short)rows;
  mon.cols = (unsigned short)cols;
  const char *journal = getenv("BERTH_MONITOR_JOURNAL_FD");
  mon.journal = (struct stream){.name = "stdout", .fd = journal ? atoi(journal) : -1, .kmsg = 1};
  unsetenv("BERTH_MONITOR_JOURNAL_FD");
  keep_fds(0);
  const char *netns = getenv("BERTH_MONITOR_NETNS_FD");
  if (netns) {
    monitor_host_netns = atoi(netns);
    fcntl(monitor_host_netns, F_SETFD, FD_CLOEXEC);
    unsetenv("BERTH_MONITOR_NETNS_FD");
  }
  mon.exit_command = argc > 11 ? argv + 11 : NULL;
  mon.exec_r = mon.exec_w = -1;
  mon.console_peer = -1;
  mon.disk_path = NULL;
  open_log();
  mon.active = 1;
  return monitor_wait(pid, -1);
}

/* The container is over: every client hears its status, and the socket goes. */
static void say_goodbye(int status) {
  int32_t body[2] = {WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255, WIFSIGNALED(status) ? WTERMSIG(status) : 0};
  if (mon.listen_fd >= 0) close(mon.listen_fd);
  mon.listen_fd = -1;
  if (mon.attach_path) unlink(mon.attach_path);
  broadcast(ATTACH_EXIT, (const char *)body, sizeof(body));
  /* Closing with a client's input unread would reset the connection, and the client could lose
     output it has not read yet: so the client closes first (it does on EXIT), its last input
     read and dropped meanwhile, for at most two seconds. */
  struct pollfd p[ATTACH_MAX_CLIENTS];
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
    if (mon.clients[i].fd >= 0) shutdown(mon.clients[i].fd, SHUT_WR);
  }
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int open = 0;
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
      p[i] = (struct pollfd){.fd = mon.clients[i].fd, .events = POLLIN};
      if (mon.clients[i].fd >= 0) open++;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    long left_ms = 2000 - ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000);
    if (!open || left_ms <= 0 || poll(p, ATTACH_MAX_CLIENTS, (int)left_ms) <= 0) break;
    static char sink[16384];
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) {
      if (!p[i].revents) continue;
      ssize_t r = read(mon.clients[i].fd, sink, sizeof(sink));
      if (r <= 0 && !(r < 0 && (errno == EINTR || errno == EAGAIN))) drop_client(&mon.clients[i]);
    }
  }
  for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) drop_client(&mon.clients[i]);
}

int monitor_wait(pid_t pid, int console_peer) {
  if (console_peer >= 0) mon.console_peer = console_peer;
  /* our own copies of the write ends go, so the pipes end when the container's do (and the
     stdin pipe's read end, so that the container alone holds it) */
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) {
    dup2(devnull, 0);
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
  enum { P_OUT, P_ERR, P_TTY, P_JOURNAL, P_SIG, P_EXEC, P_PEER, P_LISTEN, P_INPUT, P_CLIENTS };
  for (;;) {
    if (!exited) {
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid) exited = 1;
    }
    if (exited && mon.out.fd < 0 && mon.err.fd < 0 && mon.tty.fd < 0) break;
    int input_pending = mon.in_off < mon.in_len;
    int target = mon.tty.fd >= 0 ? mon.tty.fd : mon.stdin_w;
    struct pollfd p[P_CLIENTS + ATTACH_MAX_CLIENTS] = {
        [P_OUT] = {.fd = mon.out.fd, .events = POLLIN},
        [P_ERR] = {.fd = mon.err.fd, .events = POLLIN},
        [P_TTY] = {.fd = mon.tty.fd, .events = POLLIN},
        [P_JOURNAL] = {.fd = mon.journal.fd, .events = POLLIN},
        [P_SIG] = {.fd = sfd, .events = POLLIN},
        [P_EXEC] = {.fd = mon.exec_r, .events = POLLIN},
        [P_PEER] = {.fd = mon.console_peer, .events = POLLIN},
        [P_LISTEN] = {.fd = mon.listen_fd, .events = POLLIN},
        [P_INPUT] = {.fd = input_pending ? target : -1, .events = POLLOUT},
    };
    /* while input waits for the container, clients are not read: that is the back-pressure */
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++) p[P_CLIENTS + i] = (struct pollfd){.fd = input_pending ? -1 : mon.clients[i].fd, .events = POLLIN};
    /* once the init is gone, a process it left holding the pipes gets one quiet second */
    int n = poll(p, P_CLIENTS + ATTACH_MAX_CLIENTS, exited ? 1000 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (n == 0) break;
    if (p[P_PEER].revents) receive_master();
    if (p[P_OUT].revents) pump(&mon.out);
    if (p[P_ERR].revents) pump(&mon.err);
    if (p[P_TTY].revents && mon.tty.fd >= 0) pump(&mon.tty);
    if (p[P_JOURNAL].revents && mon.journal.fd >= 0) pump(&mon.journal);
    if (p[P_SIG].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
      }
    }
    if (p[P_LISTEN].revents) accept_client();
    if (p[P_INPUT].revents) flush_input(0);
    for (int i = 0; i < ATTACH_MAX_CLIENTS; i++)
      if (p[P_CLIENTS + i].revents && mon.clients[i].fd >= 0 && mon.in_off >= mon.in_len) client_read(&mon.clients[i]);
    if (p[P_EXEC].revents) {
      close(mon.exec_r);
      mon.exec_r = -1;
      if (!exited && waitpid(pid, &status, WNOHANG) == 0) {
        if (mon.console_peer >= 0) receive_master(); /* sent before the container's execve */
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
  if (mon.tty.fd >= 0) drain_lines(&mon.tty, 1);
  drain_journal();
  if (!exited) waitpid(pid, &status, 0);
  write_exit(status);
  say_goodbye(status);
  if (mon.log_fd >= 0) close(mon.log_fd);
  if (mon.exit_command) {
    /* back in the engine's network namespace: the cleanup's CNI DEL edits the host's rules */
    if (monitor_host_netns >= 0 && setns(monitor_host_netns, CLONE_NEWNET) < 0) perror("berth-runtime monitor: back to the host's network namespace");
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    extern char **environ;
    execve(mon.exit_command[0], mon.exit_command, environ);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
}
