/*
 * peak-rss: runs a command and prints its peak resident memory, exactly, as the kernel counted it.
 *
 *   peak-rss COMMAND [ARGS...]   -> on stderr, last line: "peak-rss <ru_maxrss KiB> <wait status>"
 *
 * The command's ru_maxrss comes from wait4() on it alone (not RUSAGE_CHILDREN, which would be the
 * largest of all children). At execve the kernel folds the pre-exec image's peak into it, so this
 * helper is built small and static (bench/lib/peak-rss.mjs): /bin/true measured through it shows
 * that floor. The command's stdio is this helper's own.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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
    execvp(argv[1], argv + 1);
    perror("peak-rss: execvp");
    _exit(127);
  }
  int status;
  struct rusage usage;
  /* Only this child: its own peak, whatever else ran before. */
  if (wait4(pid, &status, 0, &usage) < 0) {
    perror("peak-rss: wait4");
    return 1;
  }
  fprintf(stderr, "peak-rss %ld %d\n", usage.ru_maxrss, status);
  return 0;
}
