/* Terminal modes saved and restored (modes.h). */
#include "modes.h"

#include <signal.h>
#include <string.h>
#include <termios.h>

static struct {
  int saved;
  struct termios modes;
} terminals[3];

/* Only the fields: the padding of struct termios is not part of the modes. */
static int same(const struct termios *a, const struct termios *b) {
  return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
         a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof a->c_cc) == 0 &&
         cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

int modes_save(void) {
  int mask = 0;
  /* tcgetattr succeeds on a terminal only: it is the isatty test too (glibc's isatty is this call). */
  for (int fd = 0; fd < 3; fd++)
    if ((terminals[fd].saved = tcgetattr(fd, &terminals[fd].modes) == 0)) mask |= 1 << fd;
  return mask;
}

void modes_restore(void) {
  sigset_t ttou, previous;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  for (int fd = 0; fd < 3; fd++) {
    struct termios now;
    if (!terminals[fd].saved || tcgetattr(fd, &now) != 0 || same(&now, &terminals[fd].modes)) continue;
    sigprocmask(SIG_BLOCK, &ttou, &previous);
    /* TCSADRAIN: what the command wrote is shown under the modes it was written with. */
    tcsetattr(fd, TCSADRAIN, &terminals[fd].modes);
    sigprocmask(SIG_SETMASK, &previous, NULL);
  }
}
