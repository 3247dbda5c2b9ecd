/*
 * Median wall time of two programs started alternately with posix_spawn + waitpid from a small C
 * parent, N rounds each (docs/benchmarks.md): a stub against /bin/true without the cost of a Node
 * parent's spawnSync in both. Both must exit 0.
 *
 *   gcc -O2 -Wall -Wextra -Werror -o /tmp/spawn-pair scripts/spawn-pair.c
 *   /tmp/spawn-pair 500 ./bin/true /bin/true
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int rounds = argc == 4 ? atoi(argv[1]) : 0;
  if (rounds <= 0) {
    fprintf(stderr, "usage: spawn-pair ROUNDS PROGRAM BASELINE\n");
    return 2;
  }
  double *times[2] = {malloc(sizeof(double) * (size_t)rounds), malloc(sizeof(double) * (size_t)rounds)};
  if (!times[0] || !times[1]) return 1;
  for (int i = 0; i < rounds; i++) {
    for (int k = 0; k < 2; k++) {
      char *args[] = {argv[2 + k], NULL};
      double start = now_ms();
      pid_t pid;
      int status;
      if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0 || waitpid(pid, &status, 0) != pid ||
          status != 0) {
        fprintf(stderr, "spawn-pair: %s failed\n", args[0]);
        return 1;
      }
      times[k][i] = now_ms() - start;
    }
  }
  for (int k = 0; k < 2; k++) qsort(times[k], (size_t)rounds, sizeof(double), compare);
  double a = times[0][rounds / 2], b = times[1][rounds / 2];
  printf("%s %.3f ms  %s %.3f ms  ratio %.3f\n", argv[2], a, argv[3], b, a / b);
  return 0;
}
