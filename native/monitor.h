/* The per-container monitor (monitor.c): berth-runtime's second mode.
 *
 * The attach protocol. Mirrored by src/engine/monitor.ts: keep the two identical.
 *
 * The monitor serves a unix stream socket (ATTACH, in the container's run dir) for as long as
 * the container runs, as conmon's attach socket. Any number of clients (up to
 * ATTACH_MAX_CLIENTS) connect; each gets the container's output live from then on, and may send
 * input, which goes to the terminal (a container made with a tty) or to the stdin pipe the
 * monitor holds open (a container made with -i); without -i input is dropped. Detaching is
 * the client closing its connection: the container goes on.
 *
 *   client (berth attach / run -it)                      monitor
 *   -------------------------------                      -------
 *   connect(ATTACH) ------------------------------------> accept
 *   ATTACH_RESIZE(rows, cols) ---------------------------> TIOCSWINSZ on the pty master
 *   ATTACH_STDIN(bytes)* --------------------------------> pty master, or the stdin pipe
 *   <--------------------------------------------------- ATTACH_STDOUT(bytes)* / ATTACH_STDERR(bytes)*
 *   ATTACH_CLOSE_STDIN ----------------------------------> close the stdin pipe (a tty: VEOF, ^D)
 *   (detach: close) ... or, when the container is over:
 *   <--------------------------------------------------- ATTACH_EXIT(code, signal), close
 *
 * frame := u32:type u32:length payload   (little-endian, as protocol.h's messages)
 */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H
#include <sys/types.h>

enum attach_msg {
  ATTACH_STDIN = 1,       /* C<-client  bytes of input */
  ATTACH_CLOSE_STDIN = 2, /* C<-client  empty: no more input */
  ATTACH_RESIZE = 3,      /* C<-client  u32 rows, u32 cols */
  ATTACH_STDOUT = 16,     /* C->client  bytes (a terminal's output is all stdout) */
  ATTACH_STDERR = 17,     /* C->client  bytes */
  ATTACH_EXIT = 18,       /* C->client  i32 exit code, i32 signal (0 if none); then the monitor closes */
};

#define ATTACH_MAX_CLIENTS 16

/* `berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES ATTACH OPEN_STDIN [EXIT_COMMAND...]`:
 * pipes for the container's stdout and stderr on fds 1 and 2 (and stdin on fd 0 when
 * OPEN_STDIN is 1), the log opened, the attach socket listening. Returns -1 (message printed)
 * on bad arguments. */
int monitor_setup(int argc, char **argv);
/* the network namespace the monitor was in before joining the container's (-1: none joined);
   its exit command (the engine's cleanup, CNI DEL among it) runs there again */
extern int monitor_host_netns;
int monitor_active(void);
/* In the cloned child: drop the monitor's fds and signal mask. */
void monitor_in_child(void);
/* In stage0 once the container runs: copy its output to the log and the attached clients
 * until it exits, write the exit record, return its status. console_peer: where the child
 * sends its pty master (CONSOLE_PAIR), or -1 without a terminal. */
int monitor_wait(pid_t pid, int console_peer);
/* `berth-runtime monitor-resume …`: the monitor going on from the program on disk. */
int monitor_resume(int argc, char **argv);
/* From berth-runtime.c: the fd an SCM_RIGHTS message on sock carries, or -1. */
int recv_fd(int sock);
#endif
