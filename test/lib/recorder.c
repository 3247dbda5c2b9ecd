/*
 * The recording command of the exactness tests (test/lib/recorder.ts compiles it at test time).
 *
 *   recorder RECORD_DIR [ACTION...] -- [client arguments...]
 *
 * First writes what it received to RECORD_DIR/rec-<pid> (written whole under a temporary name,
 * then renamed): every argument, its whole environ, its working directory and what kind of file
 * each of the descriptors 0-2 is. Items are NUL-terminated and tagged by their first byte:
 * A argument, E environ entry, C cwd, F descriptor ("0:fifo:notty").
 * Then does its ACTIONs in order, as a command under test would behave:
 *   out=TEXT err=TEXT   write TEXT to stdout / stderr        args   each client argument + \n to stdout
 *   cat                 copy stdin to stdout                   big=N  N bytes to stdout (SIGPIPE kills it)
 *   sleep=MS            sleep                                  sig=N  raise signal N (default action)
 *   exit=N              exit with N (the default is 0)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void put(FILE *file, char tag, const char *text) {
  fputc(tag, file);
  fputs(text, file);
  fputc('\0', file);
}

static const char *kind(mode_t mode) {
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISCHR(mode)) return "chr";
  if (S_ISREG(mode)) return "reg";
  if (S_ISSOCK(mode)) return "sock";
  if (S_ISDIR(mode)) return "dir";
  return "other";
}

/* Everything or die: a short write would make a record the test cannot trust. */
static void write_all(int fd, const char *data, size_t length) {
  while (length > 0) {
    ssize_t written = write(fd, data, length);
    if (written < 0) exit(120);
    data += written;
    length -= (size_t)written;
  }
}

static void record(const char *dir, int argc, char **argv) {
  char temporary[4096], final[4096], cwd[4096], fd_line[64];
  snprintf(temporary, sizeof temporary, "%s/.tmp-%d", dir, (int)getpid());
  snprintf(final, sizeof final, "%s/rec-%d", dir, (int)getpid());
  FILE *file = fopen(temporary, "w");
  if (!file) exit(121);
  for (int i = 0; i < argc; i++) put(file, 'A', argv[i]);
  for (char **entry = environ; *entry; entry++) put(file, 'E', *entry);
  put(file, 'C', getcwd(cwd, sizeof cwd) ? cwd : "(getcwd failed)");
  for (int fd = 0; fd < 3; fd++) {
    struct stat status;
    snprintf(fd_line, sizeof fd_line, "%d:%s:%s", fd, fstat(fd, &status) == 0 ? kind(status.st_mode) : "closed",
             isatty(fd) ? "tty" : "notty");
    put(file, 'F', fd_line);
  }
  if (fclose(file) != 0 || rename(temporary, final) != 0) exit(122);
}

int main(int argc, char **argv) {
  if (argc < 2) return 123;
  record(argv[1], argc, argv);
  int first_client = 2;
  while (first_client < argc && strcmp(argv[first_client], "--") != 0) first_client++;
  first_client++;
  for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *action = argv[i];
    const char *value = strchr(action, '=') ? strchr(action, '=') + 1 : "";
    if (strncmp(action, "out=", 4) == 0) write_all(1, value, strlen(value));
    else if (strncmp(action, "err=", 4) == 0) write_all(2, value, strlen(value));
    else if (strcmp(action, "args") == 0) {
      for (int j = first_client; j < argc; j++) {
        write_all(1, argv[j], strlen(argv[j]));
        write_all(1, "\n", 1);
      }
    } else if (strcmp(action, "cat") == 0) {
      char buffer[65536];
      ssize_t got;
      while ((got = read(0, buffer, sizeof buffer)) > 0) write_all(1, buffer, (size_t)got);
    } else if (strncmp(action, "big=", 4) == 0) {
      static char block[65536];
      memset(block, 'x', sizeof block);
      for (long left = atol(value); left > 0; left -= (long)sizeof block)
        write_all(1, block, left < (long)sizeof block ? (size_t)left : sizeof block);
    } else if (strncmp(action, "sleep=", 6) == 0) {
      long ms = atol(value);
      struct timespec delay = {ms / 1000, (ms % 1000) * 1000000L};
      nanosleep(&delay, NULL);
    } else if (strncmp(action, "sig=", 4) == 0) {
      int number = atoi(value);
      /* A core signal's dump would be the server side's business: none here. */
      struct rlimit no_core = {0, 0};
      setrlimit(RLIMIT_CORE, &no_core);
      signal(number, SIG_DFL);
      raise(number);
      return 124;
    } else if (strncmp(action, "exit=", 5) == 0) return atoi(value);
    else return 125;
  }
  return 0;
}
