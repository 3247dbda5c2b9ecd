/* UTF-8 checks and Node's replacement decoding (utf8.h). */
#include "utf8.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

void write_all(int fd, const void *data, size_t size) {
  const char *bytes = data;
  while (size > 0) {
    ssize_t written = write(fd, bytes, size);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return;
    bytes += written;
    size -= (size_t)written;
  }
}

/*
 * Length of the well-formed sequence starting at text[0], or 0 when it is ill-formed; then *bad
 * is the length of its maximal subpart (the bytes one U+FFFD stands for, at least 1).
 */
static size_t sequence(const unsigned char *text, size_t size, size_t *bad) {
  unsigned char first = text[0];
  size_t need;
  unsigned char low = 0x80, high = 0xbf; /* allowed range of the second byte */
  *bad = 1;
  if (first < 0x80) return 1;
  if (first >= 0xc2 && first <= 0xdf) need = 1;
  else if (first >= 0xe0 && first <= 0xef) {
    need = 2;
    if (first == 0xe0) low = 0xa0;
    if (first == 0xed) high = 0x9f;
  } else if (first >= 0xf0 && first <= 0xf4) {
    need = 3;
    if (first == 0xf0) low = 0x90;
    if (first == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  for (size_t i = 1; i <= need; i++) {
    if (i >= size) return 0; /* truncated: the subpart so far */
    unsigned char byte = text[i];
    if (byte < (i == 1 ? low : 0x80) || byte > (i == 1 ? high : 0xbf)) return 0;
    *bad = i + 1;
  }
  return need + 1;
}

int utf8_valid(const unsigned char *text, size_t size) {
  size_t bad;
  for (size_t offset = 0; offset < size;) {
    size_t length = sequence(text + offset, size - offset, &bad);
    if (length == 0) return 0;
    offset += length;
  }
  return 1;
}

void utf8_replace(const unsigned char *text, size_t size, void (*out)(void *context, const void *bytes, size_t size),
                  void *context) {
  static const unsigned char replacement[] = {0xef, 0xbf, 0xbd};
  unsigned char buffer[4096];
  size_t fill = 0;
  for (size_t offset = 0; offset < size;) {
    size_t bad, length = sequence(text + offset, size - offset, &bad);
    const unsigned char *piece = length ? text + offset : replacement;
    size_t piece_size = length ? length : sizeof replacement;
    if (fill + piece_size > sizeof buffer) {
      out(context, buffer, fill);
      fill = 0;
    }
    memcpy(buffer + fill, piece, piece_size);
    fill += piece_size;
    offset += length ? length : bad;
  }
  out(context, buffer, fill);
}

static void to_fd(void *context, const void *bytes, size_t size) { write_all(*(int *)context, bytes, size); }

void utf8_write_replaced(int fd, const unsigned char *text, size_t size) { utf8_replace(text, size, to_fd, &fd); }
