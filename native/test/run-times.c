/*
 * Benchmark driver (not part of the front): runs a program N times (fork, execv, wait4) and prints
 * the median wall time and the largest peak RSS of the runs. Used for docs/native-stubs.md:
 *   gcc -O2 -o run-times native/test/run-times.c && ./run-times 300 /bin/true
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: run-times N PROGRAM [ARGS...]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  if (n < 1) n = 1;
  double *t = calloc(n, sizeof *t); long maxrss = 0; int bad = 0;
  for (int i = 0; i < n; i++) {
    struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid == 0) { execv(argv[2], argv + 2); _exit(127); }
    int status; struct rusage u; wait4(pid, &status, 0, &u);
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) bad++;
    if (u.ru_maxrss > maxrss) maxrss = u.ru_maxrss;
    t[i] = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  }
  qsort(t, n, sizeof *t, cmp);
  printf("%s: median %.3f ms (p10 %.3f, p90 %.3f), peak RSS %ld KiB, failures %d\n", argv[2], t[n/2], t[n/10], t[n*9/10], maxrss, bad);
  return 0;
}
