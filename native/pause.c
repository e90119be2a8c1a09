/*
 * berth-pause: a pod's infra process. It holds the pod's namespaces open so that the pod's
 * containers can join them by path (/proc/<pid>/ns/...), and does nothing else: it sleeps in
 * pause(2), lets the kernel reap any child (SIGCHLD ignored: no wait loop), and exits 0 on
 * SIGTERM or SIGINT. It has no policy: berth (TypeScript) decides what to share and passes
 * it as flags:
 *
 *   berth-pause [--netns PATH] [--ipc] [--uts] [--pid] [--hostname NAME]
 *
 *   --netns PATH   join that network namespace (the pod's named netns, made by CNI)
 *   --ipc --uts    new IPC / UTS namespaces
 *   --pid          a new PID namespace: the pause process is its PID 1
 *   --hostname     the host name in its (new) UTS namespace
 *
 * The first process sets the namespaces up, forks the pause process (in a new session, stdio
 * on /dev/null), prints its pid (as the host sees it) on stdout and exits 0: the pause
 * process never has berth as its parent. Any failure: one line on stderr, exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "berth-pause: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void stop(int sig) { _exit(0); }

int main(int argc, char **argv) {
  const char *netns = NULL, *hostname = NULL;
  int flags = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--netns") == 0 && i + 1 < argc) netns = argv[++i];
    else if (strcmp(argv[i], "--hostname") == 0 && i + 1 < argc) hostname = argv[++i];
    else if (strcmp(argv[i], "--ipc") == 0) flags |= CLONE_NEWIPC;
    else if (strcmp(argv[i], "--uts") == 0) flags |= CLONE_NEWUTS;
    else if (strcmp(argv[i], "--pid") == 0) flags |= CLONE_NEWPID;
    else {
      fprintf(stderr, "berth-pause: unknown argument %s\n", argv[i]);
      return 1;
    }
  }
  if (netns) {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die(netns);
    if (setns(fd, CLONE_NEWNET) < 0) die("setns network");
    close(fd);
  }
  if (flags && unshare(flags) < 0) die("unshare");
  if (hostname && sethostname(hostname, strlen(hostname)) < 0) die("sethostname");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid > 0) {
    printf("%d\n", (int)pid);
    return fflush(stdout) == 0 ? 0 : 1;
  }
  setsid();
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
  }
  /* PID 1 of a namespace gets only the signals it has handlers for */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGCHLD, &sa, NULL);
  for (;;) pause();
}
