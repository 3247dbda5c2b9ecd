/*
 * The rules the native front shares with TypeScript, one call per line of stdin, for
 * test/front/shared-rules.test.ts to compare with src/switches.ts, src/face.ts, src/native/cache.ts
 * and src/client/workdir.ts. Fields are tab-separated; "-" is an unset value. Answers one line each:
 *   switches VALUE        native tty direct-stdio stdin debug, as numbers
 *   stub-name NAME        1 when the front would treat NAME as a stub
 *   cache INDEX           the candidate's path (create=0) and its result, "unset" or "end"
 *   workdir CWD BASE      the relative directory, or "outside"
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../front/cache.h"
#include "../front/stub.h"
#include "../front/switches.h"
#include "../front/workdir.h"

int main(void) {
  char line[3 * PATH_MAX];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = '\0';
    char *fields[3] = {line, NULL, NULL};
    for (int i = 1; i < 3 && fields[i - 1]; i++) {
      char *tab = strchr(fields[i - 1], '\t');
      if (tab) *tab = '\0';
      fields[i] = tab ? tab + 1 : NULL;
    }
    const char *value = fields[1] && strcmp(fields[1], "-") != 0 ? fields[1] : NULL;
    if (strcmp(fields[0], "switches") == 0) {
      printf("%d %d %d %d %d\n", (int)switch_native(value), switch_tty(value), switch_direct_stdio(value),
             (int)switch_stdin(value), switch_debug(value));
    } else if (strcmp(fields[0], "stub-name") == 0 && fields[1]) {
      printf("%d\n", stub_name(fields[1]));
    } else if (strcmp(fields[0], "cache") == 0 && fields[1]) {
      char out[PATH_MAX];
      int found = cache_directory(atoi(fields[1]), out, sizeof out, 0);
      if (found < 0) printf("end\n");
      else if (found == 0) printf("unset\n");
      else printf("%s\n", out);
    } else if (strcmp(fields[0], "workdir") == 0 && fields[1] && fields[2]) {
      const char *relative = workdir_relative(fields[1], fields[2], strlen(fields[2]));
      printf("%s\n", relative ? relative : "outside");
    } else {
      printf("? %s\n", fields[0]);
    }
    fflush(stdout);
  }
  return 0;
}
