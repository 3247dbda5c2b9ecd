/** The remote path end to end: a stub on the build node runs a command of the tools node. */
import t from 'tap';
import { SKIP_UNBUILT } from '../e2e/harness.js';
import { makeCluster } from './cluster.js';
import { nodesUnsupported } from './nodes.js';

t.test('a stub through the gateway', { skip: SKIP_UNBUILT || nodesUnsupported() }, async (t) => {
  const cluster = await makeCluster(t, { commands: 'printf\ncat\nsh\n' });
  const r = await cluster.stub('printf', ['%s-%s\\n', 'a', 'b']);
  t.same([r.code, r.out, r.err], [0, 'a-b\n', '']);
  const native = await cluster.stub('sh', ['-c', 'pwd; echo err >&2; exit 3'], {
    env: { ...cluster.env, K8PSH_NATIVE: '1' },
  });
  t.same([native.code, native.out, native.err], [3, `${cluster.toolsWorkspace}\n`, 'err\n']);
  const cat = await cluster.stub('cat', [], { input: 'x\0y' });
  t.same(cat.out, 'x\0y');
  t.match(
    cluster.server.stderr(),
    /"identity":"CN=build, DNS:build.ci","peer":"10\.[0-9.]+:\d+","command":"sh"/,
  );
});
