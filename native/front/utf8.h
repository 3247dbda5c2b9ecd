/*
 * UTF-8 as Node sees it. The TypeScript client holds arguments, variables and paths as JavaScript
 * strings: bytes that are not valid UTF-8 become U+FFFD there, so a native stub that sent them raw
 * would not send what the TypeScript client sends. It hands over instead (utf8_valid). A server's
 * ERROR message is printed by Node after the same decoding: utf8_write_replaced does it alike.
 */
#ifndef K8PSH_UTF8_H
#define K8PSH_UTF8_H

#include <stddef.h>

/* Whether size bytes at text are well-formed UTF-8 (no surrogates, no overlongs, <= U+10FFFF). */
int utf8_valid(const unsigned char *text, size_t size);

/*
 * Writes text to fd with every ill-formed sequence replaced by U+FFFD, one per maximal subpart
 * (the WHATWG decoder, which Buffer.toString('utf8') follows). Errors are ignored (a closed pipe).
 */
void utf8_write_replaced(int fd, const unsigned char *text, size_t size);

/* The same decoding, the result handed to out in pieces (tests compare it with Node's). */
void utf8_replace(const unsigned char *text, size_t size, void (*out)(void *context, const void *bytes, size_t size),
                  void *context);

/* write(2) of all size bytes, retrying after EINTR; errors (EPIPE, EAGAIN) drop the rest. */
void write_all(int fd, const void *data, size_t size);

#endif
