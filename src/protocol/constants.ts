/**
 * Every frame: 1 byte type + 4 bytes little-endian unsigned value. For string
 * frames the value is the payload length and that many bytes follow.
 * Types 0-8 are the original k8psh 1.x protocol and must never change; our
 * additions live far from them so an old peer can never mistake one.
 */
export const HEADER_SIZE = 5;

export const FrameType = {
  WORKING_DIRECTORY: 0,
  ENVIRONMENT_VARIABLE: 1,
  COMMAND_ARGUMENT: 2,
  START_COMMAND: 3,
  STDIN_DATA: 4,
  STDOUT_DATA: 5,
  STDERR_DATA: 6,
  TERMINATE_COMMAND: 7,
  EXIT_CODE: 8,

  /** c→s first frame, s→c reply (string: magic, version, features). Old clients never send it. */
  HELLO: 0x40,
  /** s→c string: a message the client prints as `k8psh: …`; EXIT_CODE follows. */
  ERROR: 0x41,
  /** c→s value: a signal number to deliver to the remote process group. */
  SIGNAL: 0x42,
  /** s→c value: the signal that ended the command; EXIT_CODE (128+N) follows. */
  EXIT_SIGNAL: 0x43,
  /** c→s string: ask for a pseudo-terminal (rows u16, cols u16, TERM bytes). Before START_COMMAND. */
  TTY_REQUEST: 0x44,
  /** c→s value: new window size, rows << 16 | cols. */
  WINDOW_SIZE: 0x45,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/**
 * Frames of the remote transport only (docs/remote.md, "Exactly once"), value frames with value 0,
 * on an HTTP/2 stream whose request asked for them (CONFIRM_HEADER). A local connection knows them
 * as unknown types, as a native stub does: they never reach one.
 */
export const ConfirmFrame = {
  /** s→c: the request is complete and will be run, but only once START_GO comes. */
  START_READY: 0x60,
  /** c→s: run it. From here on the client never sends the session to another server. */
  START_GO: 0x61,
} as const;

export function isConfirmFrame(type: number): boolean {
  return type === ConfirmFrame.START_READY || type === ConfirmFrame.START_GO;
}

/** Frame names by type, for messages and logs. */
export const FRAME_NAMES: ReadonlyMap<number, string> = new Map(
  [...Object.entries(FrameType), ...Object.entries(ConfirmFrame)].map(([name, type]) => [type, name]),
);

export function frameName(type: number): string {
  return FRAME_NAMES.get(type) ?? `frame type ${type}`;
}

/** Frames whose value is a payload length. */
export function isStringFrame(type: number): boolean {
  return (
    type <= FrameType.STDERR_DATA ||
    type === FrameType.HELLO ||
    type === FrameType.ERROR ||
    type === FrameType.TTY_REQUEST
  );
}

/** Data frames stream through in pieces; every other string frame is collected whole (and capped). */
export function isDataFrame(type: number): boolean {
  return type === FrameType.STDIN_DATA || type === FrameType.STDOUT_DATA || type === FrameType.STDERR_DATA;
}

export function isKnownFrame(type: number): boolean {
  return type <= FrameType.EXIT_CODE || (type >= FrameType.HELLO && type <= FrameType.WINDOW_SIZE);
}

/** "k8p2" little-endian: opens every HELLO payload. */
export const HELLO_MAGIC = 0x3270386b;
export const PROTOCOL_VERSION = 1;

export const Feature = {
  ERRORS: 1 << 0,
  SIGNALS: 1 << 1,
  TTY: 1 << 2,
  /**
   * From a client: this connection (a local socket) carried my stdin, stdout and stderr with its
   * first bytes; run the command on them. From a server: I can do that. See docs/protocol.md.
   */
  PASSED_STDIO: 1 << 3,
} as const;
/** What a client asks for on any connection. */
export const CLIENT_FEATURES = Feature.ERRORS | Feature.SIGNALS | Feature.TTY;
/** What a server offers. */
export const ALL_FEATURES = CLIENT_FEATURES | Feature.PASSED_STDIO;

/**
 * The local (AF_UNIX, abstract) socket a server listens on beside 127.0.0.1:port. Abstract names
 * belong to the network namespace, which the containers of a Pod share, like the loopback interface.
 */
export const localSocketPath = (port: number): string => `\0k8psh-${port}`;
/** The descriptors a client passes, in this order: they become the command's 0, 1 and 2. */
export const PASSED_FD_COUNT = 3;

export interface Limits {
  /** Largest control frame payload (working directory, argument, variable, message). */
  maxFramePayload: number;
  /** Largest data frame payload accepted from a peer (data streams through, but a bound keeps framing sane). */
  maxDataPayload: number;
  maxArguments: number;
  /** Sum of all argument bytes. */
  maxArgumentBytes: number;
  maxEnvironmentVariables: number;
  /** Sum of all environment variable bytes. */
  maxEnvironmentBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxFramePayload: 1 << 20,
  maxDataPayload: 16 << 20,
  maxArguments: 65536,
  // Linux never executes more than 6 MiB of arguments and environment together: more could only fail.
  maxArgumentBytes: 6 << 20,
  maxEnvironmentVariables: 4096,
  maxEnvironmentBytes: 4 << 20,
};

/** Size of the data frames we send: large frames amortise headers and syscalls. */
export const DATA_CHUNK_SIZE = 256 * 1024;

/** Exit codes a shell would give. */
export const ExitCode = {
  SUCCESS: 0,
  FAILURE: 1,
  NOT_EXECUTABLE: 126,
  NOT_FOUND: 127,
  SIGNAL_BASE: 128,
  /** Could not reach the server, or lost it, as ssh reports it. */
  CONNECTION_FAILURE: 255,
} as const;
