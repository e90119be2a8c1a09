/*
 * recvtty: the other end of --console-socket, for tests and for people trying berth-oci
 * by hand (runc has the same tool). Listens on PATH, receives one pty master over
 * SCM_RIGHTS, optionally types INPUT into it, and copies the terminal's output to stdout
 * until the container closes it.
 *
 *   recvtty PATH [INPUT]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: recvtty PATH [INPUT]\n");
    return 2;
  }
  int srv = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", argv[1]);
  unlink(argv[1]);
  if (bind(srv, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(srv, 1) < 0) {
    fprintf(stderr, "recvtty: listen on %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  /* tell whoever waits for us that the socket is ready */
  fprintf(stderr, "ready\n");
  int conn = accept4(srv, NULL, NULL, SOCK_CLOEXEC);
  if (conn < 0) return 1;
  char name[256];
  struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
  char cbuf[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
  ssize_t n = recvmsg(conn, &msg, 0);
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (n <= 0 || !c || c->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "recvtty: no pty master received\n");
    return 1;
  }
  int master;
  memcpy(&master, CMSG_DATA(c), sizeof(int));
  struct winsize ws;
  if (ioctl(master, TIOCGWINSZ, &ws) == 0) fprintf(stderr, "size %dx%d\n", ws.ws_row, ws.ws_col);
  if (argc > 2) (void)!write(master, argv[2], strlen(argv[2]));
  char buf[4096];
  for (;;) {
    struct pollfd p = {.fd = master, .events = POLLIN};
    if (poll(&p, 1, 30000) <= 0) break;
    n = read(master, buf, sizeof(buf));
    if (n <= 0) break;
    (void)!write(1, buf, (size_t)n);
  }
  unlink(argv[1]);
  return 0;
}
