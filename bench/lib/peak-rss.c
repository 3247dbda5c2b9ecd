/*
 * peak-rss: runs a command and prints its peak resident memory.
 *
 *   peak-rss COMMAND [ARGS...]   -> on stderr, last line: "peak-rss <KiB> <wait status>"
 *
 * Two readings, the larger is printed:
 *  - ru_maxrss from wait4() on the command alone (not RUSAGE_CHILDREN, the largest of all children).
 *    Since Linux 6.2 the kernel's RSS counters are per-CPU and read approximately: a process of a
 *    few hundred KiB can show 0 there;
 *  - the exact RSS just before the command exits: it is traced (PTRACE_O_TRACEEXIT), stopped at its
 *    exit with its memory still mapped, and /proc/PID/smaps_rollup (a walk of its page tables) read.
 *    A stub only grows until it exits, so that is its peak.
 * At execve the kernel folds the pre-exec image's peak into ru_maxrss, so this helper is built small
 * and static (bench/lib/peak-rss.mjs): /bin/true measured through it shows that floor. The command's
 * stdio is this helper's own; its signals are passed on to it.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* The Rss line of /proc/PID/smaps_rollup in KiB, or 0 when it cannot be read. */
static long rss_now(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
  FILE *file = fopen(path, "r");
  if (!file) return 0;
  char line[256];
  long kib = 0;
  while (fgets(line, sizeof line, file))
    if (sscanf(line, "Rss: %ld kB", &kib) == 1) break;
  fclose(file);
  return kib;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fputs("usage: peak-rss COMMAND [ARGS...]\n", stderr);
    return 2;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("peak-rss: fork");
    return 1;
  }
  if (pid == 0) {
    /* Traced: it stops at its execve, and the parent asks for a stop at its exit. */
    ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    execvp(argv[1], argv + 1);
    perror("peak-rss: execvp");
    _exit(127);
  }
  long at_exit = 0;
  int status;
  struct rusage usage;
  for (;;) {
    /* Only this child: its own peak, whatever else ran before. */
    if (wait4(pid, &status, 0, &usage) < 0) {
      perror("peak-rss: wait4");
      return 1;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    int deliver = 0;
    if (WIFSTOPPED(status)) {
      int event = status >> 16;
      if (event == PTRACE_EVENT_EXIT) at_exit = rss_now(pid);
      else if (WSTOPSIG(status) == SIGTRAP && event == 0)
        /* The execve stop (or another exec: a stub that hands over): ask for the exit stop. */
        ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
      else if (event == 0) deliver = WSTOPSIG(status); /* a real signal: the command gets it */
    }
    ptrace(PTRACE_CONT, pid, NULL, (void *)(long)deliver);
  }
  long peak = usage.ru_maxrss > at_exit ? usage.ru_maxrss : at_exit;
  fprintf(stderr, "peak-rss %ld %d\n", peak, status);
  return 0;
}
