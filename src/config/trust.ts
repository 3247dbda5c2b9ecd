/**
 * Who may write the configuration (docs/configuration.md, "Who may write the configuration"). The
 * file names the servers a stub sends its arguments, variables and descriptors to, so whoever can
 * write it can have them: as OpenSSH's StrictModes, a file is trusted only when nobody but its
 * reader and root can change it. Owned by the caller's effective uid or root, not writable by
 * others, and group-writable only when that group is its owner alone (Debian's OpenSSH patch
 * "Allow harmless group-writability": user-private groups, umask 002). The same rule holds for the
 * directory of `./k8psh.conf` when no one named the file, with one exception (`sticky`).
 *
 * The native stub (native/front/table.c, `trusted`) applies the same rule without the group
 * exception: anything group-writable it leaves to this module.
 */
import { readFileSync } from 'node:fs';

/** What the rule looks at, as fstat gives it (fs.Stats has these fields). */
export interface Status {
  uid: number;
  gid: number;
  mode: number;
}

/** The account databases, as the text of /etc/passwd and /etc/group. */
export interface Accounts {
  passwd: string;
  group: string;
}

/** Who reads the configuration, and where their account databases come from. */
export interface Caller {
  euid: number;
  /** Read only for a group-writable file: the stub's usual path never opens them. */
  accounts: () => Accounts;
}

/** What is wrong with a file or directory, for the message. */
export type Problem =
  | { kind: 'owner'; uid: number }
  | { kind: 'others'; mode: number }
  | { kind: 'group'; mode: number; gid: number; group: string | undefined };

const S_ISVTX = 0o1000;
const GROUP_WRITE = 0o020;
const OTHERS_WRITE = 0o002;

/** The system's databases; a missing or unreadable one is empty (no group is then anyone's alone). */
export function systemAccounts(): Accounts {
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return '';
    }
  };
  return { passwd: read('/etc/passwd'), group: read('/etc/group') };
}

export function currentCaller(): Caller {
  // Linux only (README): geteuid exists. -1 would trust nothing but root's files.
  return { euid: process.geteuid?.() ?? -1, accounts: systemAccounts };
}

/**
 * Why a file (or, `directory`, the directory holding ./k8psh.conf) with this status must not be
 * trusted by `caller`; undefined when it may.
 */
export function distrust(status: Status, caller: Caller, directory = false): Problem | undefined {
  // Its owner can rewrite it, or chmod it open, whatever its mode says now.
  if (status.uid !== caller.euid && status.uid !== 0) return { kind: 'owner', uid: status.uid };
  // A sticky directory (/tmp): others may add files, but only the owner of a file (or of the
  // directory, checked above) can rename or remove it, so nobody can replace the caller's own
  // ./k8psh.conf there; a file someone else planted fails the owner check when it is read.
  if (directory && status.mode & S_ISVTX) return undefined;
  if (status.mode & OTHERS_WRITE) return { kind: 'others', mode: status.mode };
  if (status.mode & GROUP_WRITE) {
    const accounts = caller.accounts();
    if (!ownersAlone(status.uid, status.gid, accounts))
      return { kind: 'group', mode: status.mode, gid: status.gid, group: groupName(status.gid, accounts) };
  }
  return undefined;
}

/**
 * Whether group `gid` has exactly one member, user `owner`, as Debian's OpenSSH counts them:
 * every user whose primary group it is must be the owner, its supplementary member list must be
 * empty or the owner's name alone, and there must be a member at all (memberless groups serve
 * setgid programs). An owner or group missing from the databases (NSS beyond files): no.
 */
export function ownersAlone(owner: number, gid: number, accounts: Accounts): boolean {
  const group = records(accounts.group).find((fields) => id(fields[2]) === gid);
  const users = records(accounts.passwd);
  const ownerName = users.find((fields) => id(fields[2]) === owner)?.[0];
  if (!group || ownerName === undefined) return false;
  let members = 0;
  for (const user of users) {
    if (id(user[3]) !== gid) continue;
    if (id(user[2]) !== owner) return false;
    members++;
  }
  const supplementary = (group[3] ?? '').split(',').filter((name) => name !== '');
  if (supplementary.length > 0) {
    if (supplementary.length !== 1 || supplementary[0] !== ownerName) return false;
    members++;
  }
  return members > 0;
}

function groupName(gid: number, accounts: Accounts): string | undefined {
  return records(accounts.group).find((fields) => id(fields[2]) === gid)?.[0];
}

/** The colon-separated fields of each line; NIS `+`/`-` lines never match a number below. */
function records(text: string): string[][] {
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

function id(field: string | undefined): number {
  return field !== undefined && /^\d+$/.test(field) ? Number(field) : NaN;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function owners(euid: number): string {
  return euid === 0 ? 'root' : `you (uid ${euid}) or root`;
}

function groupLabel(problem: { gid: number; group: string | undefined }): string {
  return problem.group === undefined ? `gid ${problem.gid}` : `${problem.group} (gid ${problem.gid})`;
}

/**
 * The reason a file is refused, with its fix: `how` names the ways to choose another file
 * (`--config FILE or $K8PSH_CONFIG`, or `$K8PSH_CONFIG` for a stub).
 */
export function fileReason(file: string, problem: Problem, euid: number, how: string): string {
  switch (problem.kind) {
    case 'owner':
      return `it is owned by uid ${problem.uid}, not by ${owners(euid)} (chown it, or name a file you trust with ${how})`;
    case 'others':
      return `it is writable by others (mode ${octal(problem.mode)}; chmod go-w ${file})`;
    case 'group':
      return `it is writable by group ${groupLabel(problem)}, which is not its owner's alone (mode ${octal(problem.mode)}; chmod go-w ${file})`;
  }
}

/** The reason ./k8psh.conf is refused for its directory `dir`, with the fix. */
export function directoryReason(dir: string, problem: Problem, euid: number, how: string): string {
  switch (problem.kind) {
    case 'owner':
      return `its directory ${dir} is owned by uid ${problem.uid}, not by ${owners(euid)} (name the file with ${how})`;
    case 'others':
      return `its directory ${dir} is writable by others (mode ${octal(problem.mode)}; chmod go-w ${dir}, or name the file with ${how})`;
    case 'group':
      return `its directory ${dir} is writable by group ${groupLabel(problem)}, which is not its owner's alone (mode ${octal(problem.mode)}; chmod go-w ${dir}, or name the file with ${how})`;
  }
}
