/* The per-container monitor (monitor.c): berth-runtime's second mode. */
#ifndef BERTH_MONITOR_H
#define BERTH_MONITOR_H
#include <sys/types.h>

/* `berth-runtime monitor LOG EXIT MAX_SIZE MAX_FILES`: pipes for the container's stdout and
 * stderr on fds 1 and 2, the log opened. Returns -1 (message printed) on bad arguments. */
int monitor_setup(int argc, char **argv);
int monitor_active(void);
/* In the cloned child: drop the monitor's fds and signal mask. */
void monitor_in_child(void);
/* In stage0 once the container runs: copy its output to the log until it exits, write the
 * exit record, return its status. */
int monitor_wait(pid_t pid);
/* `berth-runtime monitor-resume …`: the monitor going on from the program on disk. */
int monitor_resume(int argc, char **argv);
#endif
