/**
 * The rules the native front (native/front, C) and the runtime (TypeScript) both apply, written
 * once. scripts/lib/shared-header.mjs turns this file and src/protocol/constants.ts into
 * native/front/shared.h at build time; `npm run lint` fails when the committed header is stale.
 * Rules that are code rather than data (the working-directory mapping, the switches) are written in
 * both languages and cross-checked by test/front/shared-rules.test.ts.
 */

/**
 * The caller's environment, kept away from our runtime (docs/build.md, "The caller's environment"):
 * the front renames every variable Node, libuv, OpenSSL or the glibc loader would obey to
 * `K8PSH_STASH_<NAME>`; the runtime's view of the caller (src/runtime/caller-env.ts) names them back.
 * LC_* and LANG too: Node's ICU dies by SIGSEGV at start-up on a locale name it cannot parse.
 */
export const STASH_PREFIX = 'K8PSH_STASH_';
/** The front's real path, for the runtime. Stashed too when the caller had one, so the round trip is exact. */
export const SELF_VARIABLE = 'K8PSH_SELF';
/** Where the front asks the runtime to write a stub's compiled table (docs/native-stubs.md). */
export const STUB_CACHE_VARIABLE = 'K8PSH_STUB_CACHE';
/** The runtime's files as memory-file descriptors, when it runs from memory (docs/build.md). */
export const FDS_VARIABLE = 'K8PSH_FDS';
export const STASHED_PREFIXES: readonly string[] = ['NODE_', 'UV_', 'OPENSSL_', 'LD_', 'LC_', STASH_PREFIX];
/** Node's documented variables outside NODE_*: colours of its own output, OpenSSL's CA store; the locale. */
export const STASHED_NAMES: readonly string[] = [
  'GLIBC_TUNABLES',
  'FORCE_COLOR',
  'SSL_CERT_DIR',
  'SSL_CERT_FILE',
  'LANG',
  'LANGUAGE',
  SELF_VARIABLE,
];
/**
 * Never part of the caller's view: ours, taken out before the view is built, and `__proto__`, which
 * cannot be a property of it.
 */
export const HIDDEN_VARIABLES: readonly string[] = [STUB_CACHE_VARIABLE, FDS_VARIABLE, '__proto__'];

/** Names the executable answers to as itself (docs/session.md, "Faces"); any other name is a stub. */
export const OWN_NAMES: readonly string[] = ['k8psh', 'k8pshd', 'main'];
/** A name ending so is a script run by node (the sources, tests): its face is the name without it. */
export const SCRIPT_SUFFIXES: readonly string[] = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.cts'];

/** Forwarded to the remote process group (docs/session.md, "Signals and endings"). */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;
/** Their default action dumps core: a client reports them as an exit status 128+N instead of raising them. */
export const CORE_SIGNALS = [
  'SIGQUIT',
  'SIGILL',
  'SIGTRAP',
  'SIGABRT',
  'SIGBUS',
  'SIGFPE',
  'SIGSEGV',
  'SIGSYS',
  'SIGXCPU',
  'SIGXFSZ',
] as const;

/** Forwarded to a passed terminal's command when it asked for none: its type. */
export const TERM_VARIABLE = 'TERM';

/**
 * Private cache directories, in the order they are tried (docs/build.md; docs/native-stubs.md): the value
 * of `variable` (absolute, or the candidate is skipped) followed by `suffix`, and `-<euid>` when
 * `perUser` (a shared directory such as /tmp). `variable` null: `suffix` alone. `named`: a place
 * the user chose, the only ones the runtime's addon cache uses (src/native/cache.ts).
 */
export interface CacheCandidate {
  variable: string | null;
  suffix: string;
  perUser: boolean;
  named: boolean;
}
export const CACHE_CANDIDATES: readonly CacheCandidate[] = [
  { variable: 'K8PSH_CACHE_DIR', suffix: '', perUser: false, named: true },
  { variable: 'XDG_CACHE_HOME', suffix: '/k8psh', perUser: false, named: true },
  { variable: 'HOME', suffix: '/.cache/k8psh', perUser: false, named: true },
  { variable: 'TMPDIR', suffix: '/k8psh', perUser: true, named: false },
  { variable: null, suffix: '/tmp/k8psh', perUser: true, named: false },
];
