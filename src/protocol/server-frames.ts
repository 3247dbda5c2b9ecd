/** Frames the server sends. Only a client that said HELLO ever gets a frame outside 0-8. */
import { ExitCode, FrameType } from './constants.js';
import { encodeString, encodeValue } from './codec.js';
import { encodeHelloPayload } from './hello.js';
import { errorLine } from './printable.js';

export const encodeHelloReply = (version: number, features: number): Buffer =>
  encodeString(FrameType.HELLO, encodeHelloPayload({ version, features }));

/**
 * The end of a session. A death by signal N is EXIT_SIGNAL(N) + EXIT_CODE(128+N)
 * for a new client; an old one gets EXIT_CODE(128+N), as a shell reports it
 * (the original sent nothing and its client aborted).
 */
export function encodeExit(code: number | null, signal: number | null, modern: boolean): Buffer {
  const status = signal !== null ? ExitCode.SIGNAL_BASE + signal : (code ?? ExitCode.FAILURE);
  const exit = encodeValue(FrameType.EXIT_CODE, status);
  return modern && signal !== null ? Buffer.concat([encodeValue(FrameType.EXIT_SIGNAL, signal), exit]) : exit;
}

/**
 * A refusal before anything ran: the message as an ERROR frame for a new
 * client (it prints it), as stderr text for an old one, then the exit code.
 */
export function encodeRefusal(message: string, code: number, modern: boolean): Buffer {
  const text = modern
    ? encodeString(FrameType.ERROR, message)
    : encodeString(FrameType.STDERR_DATA, errorLine(message));
  return Buffer.concat([text, encodeValue(FrameType.EXIT_CODE, code)]);
}
