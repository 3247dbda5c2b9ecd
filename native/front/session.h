/*
 * A passed-descriptor session run by the native stub, as src/client/direct.ts runs it once the
 * request is sent: the server's frames are read (frames.h), INT TERM HUP QUIT USR1 USR2 (and WINCH
 * when a terminal was passed) are forwarded as SIGNAL frames, and the stub ends as exitLike()
 * (src/client/run-command.ts) ends the TypeScript client.
 */
#ifndef K8PSH_SESSION_H
#define K8PSH_SESSION_H

/*
 * Blocks the forwarded signals and opens a signalfd for them (their dispositions made default:
 * a caller's ignored SIGINT is forwarded too, as Node's handlers do; SIGPIPE ignored, as Node has
 * it). 0, or -1 with everything as it was.
 */
int session_prepare(int terminal);

/* Puts the signal mask and dispositions back and closes the signalfd. */
void session_unprepare(void);

/*
 * Reads the server's reply on sock until the session ends, then exits (or dies by the command's
 * signal). Returns only when the server closed the connection without sending a byte: sock is then
 * closed and session_unprepare() done, and the caller hands over.
 */
void session_run(int sock);

/* Ends the process as exitLike() does: terminal modes restored, the same signal unless it dumps core. */
__attribute__((noreturn)) void session_exit(int code, int signal);

#endif
