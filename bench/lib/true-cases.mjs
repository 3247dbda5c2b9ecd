/**
 * The cases the per-call figures share: a stub running `true` remotely (native where it can),
 * the original's stub with `K8PSH_REFERENCE`, the same stub forced through the TypeScript client,
 * optionally relayed, and /bin/true and `node -e 0` started the same way.
 */
import { NODE } from './process.mjs';

export function trueCases({ ours, reference }, { relayed = false } = {}) {
  const at = (target, env = {}) => ({ env: { ...target.env, ...env }, cwd: target.work });
  const stub = (label, role, target, env) => ({
    label,
    role,
    file: target.stub('true'),
    args: [],
    ...at(target, env),
  });
  return [
    stub('k8psh stub → true', 'ours', ours),
    ...(reference ? [stub('original k8psh stub', 'reference', reference)] : []),
    stub('k8psh stub, TypeScript client', 'info', ours, { K8PSH_NATIVE: '0' }),
    ...(relayed ? [stub('k8psh stub, relayed', 'info', ours, { K8PSH_DIRECT_STDIO: '0' })] : []),
    { label: '/bin/true', role: 'baseline', file: '/bin/true', args: [], ...at(ours) },
    { label: 'node -e 0', role: 'baseline', file: NODE, args: ['-e', '0'], ...at(ours) },
  ];
}
