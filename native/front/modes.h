/*
 * The modes of the terminals among fd 0-2, as src/client/terminal-modes.ts keeps them: saved
 * before the remote command gets the terminal, put back on every way out, and only where they
 * changed (a client that changed nothing never writes to its terminal). Restoring blocks SIGTTOU:
 * a stub in the background of its shell (`make &`) must not be stopped for it.
 */
#ifndef K8PSH_MODES_H
#define K8PSH_MODES_H

/* Saves the modes of the terminals among fd 0-2; which they are, as a mask (bit fd). */
int modes_save(void);
void modes_restore(void);

#endif
