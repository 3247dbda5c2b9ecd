/*
 * Benchmark driver (not part of the front): runs a program N times (fork, execv, wait4) and prints
 * its median wall time and the largest peak RSS of the runs. With `-- BASELINE [ARGS...]` the two
 * run alternately, a round each in turn, so that a change in the machine's load hits both alike,
 * and the ratio of the medians is printed too. Used for docs/native-stubs.md and docs/benchmarks.md:
 *   gcc -O2 -Wall -Wextra -Werror -o /tmp/run-times native/test/run-times.c
 *   /tmp/run-times 300 /bin/true
 *   /tmp/run-times 500 ./bin/true -- /bin/true      # a stub of `true` against the local one
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct program {
  char **argv; /* NULL-terminated: the program and its arguments */
  double *times;
  long max_rss; /* KiB */
  int failures;
};

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* One run: its wall time into times[round]; a run that does not exit 0 counts as a failure. */
static void run(struct program *program, int round) {
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid == 0) {
    execv(program->argv[0], program->argv);
    _exit(127);
  }
  int status = -1;
  struct rusage usage = {0};
  if (pid < 0 || wait4(pid, &status, 0, &usage) != pid) status = -1;
  clock_gettime(CLOCK_MONOTONIC, &end);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) program->failures++;
  if (usage.ru_maxrss > program->max_rss) program->max_rss = usage.ru_maxrss;
  program->times[round] = (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
}

/* Sorts the times and prints the summary line; the median. */
static double report(struct program *program, int n) {
  qsort(program->times, (size_t)n, sizeof(double), compare);
  double median = program->times[n / 2];
  printf("%s: median %.3f ms (p10 %.3f, p90 %.3f), peak RSS %ld KiB, failures %d\n", program->argv[0], median,
         program->times[n / 10], program->times[n * 9 / 10], program->max_rss, program->failures);
  return median;
}

int main(int argc, char **argv) {
  if (argc < 3 || strcmp(argv[2], "--") == 0) {
    fprintf(stderr, "usage: run-times N PROGRAM [ARGS...] [-- BASELINE [ARGS...]]\n");
    return 2;
  }
  int n = atoi(argv[1]);
  if (n < 1) n = 1;
  struct program programs[2] = {{.argv = argv + 2}, {0}};
  int count = 1;
  /* The first `--` after the program splits off the baseline (it must name one). */
  for (int i = 3; i < argc; i++)
    if (strcmp(argv[i], "--") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "run-times: no BASELINE after --\n");
        return 2;
      }
      argv[i] = NULL;
      programs[1].argv = argv + i + 1;
      count = 2;
      break;
    }
  for (int k = 0; k < count; k++)
    if (!(programs[k].times = calloc((size_t)n, sizeof(double)))) return 1;
  for (int round = 0; round < n; round++)
    for (int k = 0; k < count; k++) run(&programs[k], round);
  double medians[2];
  for (int k = 0; k < count; k++) medians[k] = report(&programs[k], n);
  if (count == 2) printf("ratio %.3f\n", medians[0] / medians[1]);
  return programs[0].failures || programs[1].failures ? 1 : 0;
}
