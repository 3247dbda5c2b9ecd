/*
 * printenv for the Alpine-like roots of test/pod and test/podman (Alpine's busybox has the applet,
 * Debian's has not), linked against musl.
 */
#include <stdio.h>
#include <stdlib.h>
extern char **environ;
int main(int argc, char **argv) {
  if (argc < 2) {
    for (char **e = environ; *e; e++) puts(*e);
    return 0;
  }
  int status = 0;
  for (int i = 1; i < argc; i++) {
    const char *value = getenv(argv[i]);
    if (value) puts(value); else status = 1;
  }
  return status;
}
