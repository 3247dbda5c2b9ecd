/**
 * K8PSH_STUB_CACHE is ours (src/runtime/stub-cache-target.ts): taken out of process.env before the
 * caller's view exists, also when no front started us (the view is then process.env itself).
 */
import t from 'tap';

t.test('taken out of process.env, kept for the table writer', async (t) => {
  process.env.K8PSH_STUB_CACHE = '/cache/native-id-0123456789abcdef';
  const { callerEnv } = await import('../../src/runtime/caller-env.js');
  const { stubCacheTarget } = await import('../../src/runtime/stub-cache-target.js');
  t.equal(stubCacheTarget(), '/cache/native-id-0123456789abcdef');
  t.notOk('K8PSH_STUB_CACHE' in process.env);
  t.equal(callerEnv().K8PSH_STUB_CACHE, undefined);
  process.env.K8PSH_STUB_CACHE = 'set later';
  t.equal(stubCacheTarget(), '/cache/native-id-0123456789abcdef', 'read once, at start');
});
