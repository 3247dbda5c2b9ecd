/**
 * Who may write the configuration (src/config/trust.ts, docs/configuration.md): the rule on real
 * files and directories chowned and chmodded (we run as root), with the caller's uid and the
 * account databases given as /etc/passwd and /etc/group text; then loadChosenConfig, as every
 * program loads its configuration, refusing a planted or open file with its exact message.
 */
import { chmodSync, chownSync, lchownSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { UntrustedConfigError } from '../../src/config/errors.js';
import { loadChosenConfig, loadConfig } from '../../src/config/load.js';
import {
  type Accounts,
  type Caller,
  directoryReason,
  distrust,
  fileReason,
  ownersAlone,
} from '../../src/config/trust.js';

const ROOT = process.getuid?.() === 0 ? false : 'needs root to chown';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'alice:x:1000:1000::/home/alice:/bin/sh',
  'bob:x:1001:1001::/home/bob:/bin/sh',
  'carol:x:1002:1000::/home/carol:/bin/sh', // shares alice's group as her primary one
  'dave:x:1003:1003::/home/dave:/bin/sh',
  'erin:x:1004:100::/home/erin:/bin/sh',
  '',
].join('\n');
const GROUP = [
  'root:x:0:',
  'users:x:100:',
  'alice:x:1000:',
  'bob:x:1001:',
  'dave:x:1003:dave', // private group that also lists its owner
  'devs:x:2000:alice,bob',
  'solo:x:2001:bob', // one supplementary member only
  'empty:x:2002:',
  '',
].join('\n');
const ACCOUNTS: Accounts = { passwd: PASSWD, group: GROUP };

/** A caller of uid `euid` whose databases are ACCOUNTS; `reads` counts how often they were read. */
function caller(euid: number): Caller & { reads: number } {
  const c = {
    euid,
    reads: 0,
    accounts: () => {
      c.reads++;
      return ACCOUNTS;
    },
  };
  return c;
}

t.test('ownersAlone: a group with exactly one member, the owner', async (t) => {
  t.ok(ownersAlone(1001, 1001, ACCOUNTS), "bob's private group");
  t.ok(ownersAlone(1003, 1003, ACCOUNTS), 'a private group that lists its owner again');
  t.ok(ownersAlone(1001, 2001, ACCOUNTS), 'one supplementary member, the owner');
  t.ok(ownersAlone(0, 0, ACCOUNTS), 'root alone');
  t.notOk(ownersAlone(1000, 1000, ACCOUNTS), "alice's group is carol's primary group too");
  t.notOk(ownersAlone(1000, 2000, ACCOUNTS), 'two supplementary members');
  t.notOk(ownersAlone(1002, 2001, ACCOUNTS), 'its one member is not the owner');
  t.notOk(ownersAlone(1001, 2002, ACCOUNTS), 'no member at all (a setgid group)');
  t.notOk(ownersAlone(1001, 100, ACCOUNTS), "another user's primary group, the owner not in it");
  t.notOk(ownersAlone(1001, 4242, ACCOUNTS), 'a gid not in /etc/group');
  t.notOk(ownersAlone(4242, 1001, ACCOUNTS), 'an owner not in /etc/passwd');
  t.notOk(ownersAlone(1001, 1001, { passwd: '', group: '' }), 'no databases (a scratch image)');
  t.ok(
    ownersAlone(1001, 1001, { passwd: `+::::::\n${PASSWD}`, group: `${GROUP}+:::\n` }),
    'NIS compat lines match no number',
  );
});

t.test('distrust on real files', { skip: ROOT }, async (t) => {
  const dir = t.testdir({ 'k8psh.conf': '[h]\nc\n' });
  const file = join(dir, 'k8psh.conf');
  const status = (uid: number, gid: number, mode: number) => {
    chownSync(file, uid, gid);
    chmodSync(file, mode);
    return statSync(file);
  };

  const bob = caller(1001);
  t.equal(distrust(status(1001, 1001, 0o644), bob), undefined, "the caller's own, 0644");
  t.equal(distrust(status(0, 0, 0o644), bob), undefined, "root's (a ConfigMap), 0644");
  t.equal(distrust(status(1001, 1001, 0o600), bob), undefined, "the caller's own, 0600");
  t.equal(bob.reads, 0, 'the account databases are not read for a file no group may write');
  t.same(distrust(status(1002, 1002, 0o644), bob), { kind: 'owner', uid: 1002 }, "another user's");
  t.same(distrust(status(1002, 1002, 0o600), caller(0)), { kind: 'owner', uid: 1002 }, 'root reads it');
  t.same(distrust(status(1001, 1001, 0o646), bob), { kind: 'others', mode: 0o100646 }, 'writable by others');
  t.same(
    distrust(status(1001, 1001, 0o666), bob),
    { kind: 'others', mode: 0o100666 },
    'writable by all (others first)',
  );
  t.equal(bob.reads, 0, 'still not read');
  t.equal(distrust(status(1001, 1001, 0o664), bob), undefined, 'group-writable, a private group (umask 002)');
  t.equal(bob.reads, 1, 'read once for a group-writable file');
  t.equal(distrust(status(1001, 2001, 0o664), bob), undefined, 'a group of one, the owner');
  t.same(
    distrust(status(1001, 2000, 0o664), bob),
    { kind: 'group', mode: 0o100664, gid: 2000, group: 'devs' },
    'a group of two',
  );
  t.same(
    distrust(status(1001, 2002, 0o664), bob),
    { kind: 'group', mode: 0o100664, gid: 2002, group: 'empty' },
    'a group of none',
  );
  t.same(
    distrust(status(1001, 4242, 0o664), bob),
    { kind: 'group', mode: 0o100664, gid: 4242, group: undefined },
    'a gid not in /etc/group',
  );
  t.same(distrust(status(1002, 1002, 0o664), bob), { kind: 'owner', uid: 1002 }, 'the owner first');
  // The sticky bit excuses a directory only.
  t.same(distrust(status(1001, 1001, 0o1666), bob), { kind: 'others', mode: 0o101666 }, 'a sticky file');
});

t.test('distrust on real directories: the sticky exception', { skip: ROOT }, async (t) => {
  const dir = join(t.testdir({}), 'work');
  mkdirSync(dir);
  const status = (uid: number, mode: number) => {
    chownSync(dir, uid, uid);
    chmodSync(dir, mode);
    return statSync(dir);
  };
  const bob = caller(1001);
  t.equal(distrust(status(0, 0o1777), bob, true), undefined, 'root-owned and sticky, as /tmp');
  t.equal(distrust(status(1001, 0o1777), bob, true), undefined, 'our own and sticky');
  t.equal(distrust(status(1001, 0o755), bob, true), undefined, 'our own');
  t.equal(distrust(status(1001, 0o775), bob, true), undefined, 'our own, our private group');
  t.same(
    distrust(status(1002, 0o1777), bob, true),
    { kind: 'owner', uid: 1002 },
    "sticky but someone else's: its owner may rename anything in it",
  );
  t.same(distrust(status(0, 0o777), bob, true), { kind: 'others', mode: 0o40777 }, 'open, not sticky');
  t.same(distrust(status(1001, 0o777), bob, false), { kind: 'others', mode: 0o40777 }, 'not as a directory');
  t.same(distrust(status(1001, 0o1777), bob, false), { kind: 'others', mode: 0o41777 }, 'sticky, as a file');
});

t.test('the reasons, each with its fix', async (t) => {
  const how = '$K8PSH_CONFIG';
  const file = '/w/k8psh.conf';
  t.equal(
    fileReason(file, { kind: 'owner', uid: 1002 }, 1001, how),
    'it is owned by uid 1002, not by you (uid 1001) or root (chown it, or name a file you trust with $K8PSH_CONFIG)',
  );
  t.equal(
    fileReason(file, { kind: 'owner', uid: 1002 }, 0, '--config FILE or $K8PSH_CONFIG'),
    'it is owned by uid 1002, not by root (chown it, or name a file you trust with --config FILE or $K8PSH_CONFIG)',
  );
  t.equal(
    fileReason(file, { kind: 'others', mode: 0o100666 }, 1001, how),
    'it is writable by others (mode 0666; chmod go-w /w/k8psh.conf)',
  );
  t.equal(
    fileReason(file, { kind: 'group', mode: 0o100664, gid: 2000, group: 'devs' }, 1001, how),
    "it is writable by group devs (gid 2000), which is not its owner's alone (mode 0664; chmod go-w /w/k8psh.conf)",
  );
  t.equal(
    fileReason(file, { kind: 'group', mode: 0o100664, gid: 4242, group: undefined }, 1001, how),
    "it is writable by group gid 4242, which is not its owner's alone (mode 0664; chmod go-w /w/k8psh.conf)",
  );
  t.equal(
    directoryReason('/tmp/x', { kind: 'others', mode: 0o40777 }, 1001, how),
    'its directory /tmp/x is writable by others (mode 0777; chmod go-w /tmp/x, or name the file with $K8PSH_CONFIG)',
  );
  t.equal(
    directoryReason('/tmp/x', { kind: 'owner', uid: 1002 }, 1001, how),
    'its directory /tmp/x is owned by uid 1002, not by you (uid 1001) or root (name the file with $K8PSH_CONFIG)',
  );
  t.equal(
    directoryReason('/tmp/x', { kind: 'group', mode: 0o40775, gid: 2000, group: 'devs' }, 1001, how),
    "its directory /tmp/x is writable by group devs (gid 2000), which is not its owner's alone " +
      '(mode 0775; chmod go-w /tmp/x, or name the file with $K8PSH_CONFIG)',
  );
});

t.test(
  'loadChosenConfig refuses what others may write, as every program loads it',
  { skip: ROOT },
  async (t) => {
    const text = '[ h:2102 ]\nc\n';
    const top = t.testdir({});
    const how = '$K8PSH_CONFIG';
    /** Loads as a stub in `cwd`: `env` is the caller's environment (no K8PSH_CONFIG: ./k8psh.conf). */
    const load = async (cwd: string, env: NodeJS.ProcessEnv = {}, explicit?: string) => {
      const before = process.cwd();
      process.chdir(cwd);
      try {
        return await loadChosenConfig(explicit, { env }, how);
      } finally {
        process.chdir(before);
      }
    };
    const directory = (name: string, mode: number, uid = 0): string => {
      const dir = join(top, name);
      mkdirSync(dir);
      chmodSync(dir, mode);
      chownSync(dir, uid, uid);
      return dir;
    };

    const open = directory('open', 0o777);
    const planted = join(open, 'k8psh.conf');
    writeFileSync(planted, text);
    chownSync(planted, 1002, 1002);
    await t.rejects(
      load(open),
      {
        name: 'UntrustedConfigError',
        message:
          `refusing the configuration ./k8psh.conf: its directory ${open} is writable by others ` +
          `(mode 0777; chmod go-w ${open}, or name the file with $K8PSH_CONFIG)`,
      },
      'planted in a directory others may write: refused, nothing in it opened',
    );
    const empty = directory('open-empty', 0o777);
    await t.rejects(
      load(empty),
      {
        message:
          'cannot read configuration file k8psh.conf: ENOENT: no such file or directory ' +
          '(name the configuration file with $K8PSH_CONFIG)',
      },
      'no file in such a directory: the missing file is what is said',
    );

    const sticky = directory('sticky', 0o1777);
    writeFileSync(join(sticky, 'k8psh.conf'), text);
    chownSync(join(sticky, 'k8psh.conf'), 1002, 1002);
    await t.rejects(
      load(sticky),
      {
        name: 'UntrustedConfigError',
        file: join(sticky, 'k8psh.conf'),
        message:
          `refusing the configuration ${sticky}/k8psh.conf: it is owned by uid 1002, not by root ` +
          '(chown it, or name a file you trust with $K8PSH_CONFIG)',
      },
      'planted in a sticky directory: refused for its owner',
    );
    chownSync(join(sticky, 'k8psh.conf'), 0, 0);
    t.equal((await load(sticky)).config.hosts.get('h')?.port, 2102, "root's own in a sticky directory");

    const named = join(open, 'named.conf');
    writeFileSync(named, text);
    t.equal(
      (await load(open, { K8PSH_CONFIG: named })).file,
      named,
      'a file named by $K8PSH_CONFIG: its directory is not checked',
    );
    t.equal((await load(top, {}, named)).file, named, 'nor one named by --config');
    chmodSync(named, 0o646);
    await t.rejects(
      load(top, { K8PSH_CONFIG: named }),
      {
        message: `refusing the configuration ${named}: it is writable by others (mode 0646; chmod go-w ${named})`,
      },
      'named by $K8PSH_CONFIG, writable by others',
    );
    await t.rejects(
      loadChosenConfig(named, {}, '--config FILE or $K8PSH_CONFIG'),
      {
        message: `refusing the configuration ${named}: it is writable by others (mode 0646; chmod go-w ${named})`,
      },
      'the same for --config',
    );
    t.equal((await loadConfig(named)).hosts.size, 1, 'loadConfig (the library call) checks nothing');

    // A ConfigMap: the file is a symlink to ..data/k8psh.conf; the target is what is read and checked.
    const configMap = directory('configmap', 0o755);
    mkdirSync(join(configMap, '..2026'));
    writeFileSync(join(configMap, '..2026', 'k8psh.conf'), text);
    symlinkSync('..2026', join(configMap, '..data'));
    symlinkSync('..data/k8psh.conf', join(configMap, 'k8psh.conf'));
    lchownSync(join(configMap, 'k8psh.conf'), 1002, 1002);
    const mounted = join(configMap, 'k8psh.conf');
    t.equal((await load(top, { K8PSH_CONFIG: mounted })).file, mounted, 'followed to a root-owned target');
    chmodSync(join(configMap, '..2026', 'k8psh.conf'), 0o666);
    await t.rejects(
      load(top, { K8PSH_CONFIG: mounted }),
      {
        message: `refusing the configuration ${mounted}: it is writable by others (mode 0666; chmod go-w ${mounted})`,
      },
      'a symlink: its target is checked',
    );
    t.type(new UntrustedConfigError('f', 'why'), Error);
  },
);
