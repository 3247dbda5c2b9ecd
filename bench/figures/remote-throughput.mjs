/**
 * stdout from a remote `head -c` (issue 24): the native stub in the build node passes its stdout
 * (a pipe into ../lib/sink.mjs) to the gateway, which writes there what the tools node's head sent
 * over HTTP/2; beside: the same stub answered by the Pod-local k8pshd (head writes into the pipe
 * itself) and a local `head | sink`. The CPU the gateway and the tools server used per run is kept
 * (from /proc/PID/stat), to tell where the time goes.
 */
import { medianBars } from '../lib/bars.mjs';
import { interleave } from '../lib/interleave.mjs';
import { NODE, SINK, quote } from '../lib/process.mjs';
import { cpuMs, remoteFigure, stubRun } from '../lib/remote.mjs';
import { MiB, round, summary } from '../lib/stats.mjs';

const GOAL = 500;

export const remoteStdoutThroughput = (ctx) =>
  remoteFigure(ctx, async (remote) => {
    const bytes = ctx.options.sizes.stdout;
    const sink = `${quote(NODE)} ${quote(SINK)}`;
    const viaStub = (where) => {
      const stub = stubRun(remote, where, 'head', [], { K8PSH_NATIVE: '1' });
      return { ...stub, producer: `${quote(stub.file)} -c ${bytes} /dev/zero | ${sink}` };
    };
    const cases = [
      { label: 'stub → gateway → tools node: head -c', role: 'ours', ...viaStub('remote') },
      { label: 'stub → Pod-local k8pshd: head -c', role: 'baseline', ...viaStub('local') },
      {
        label: 'local pipe (head | sink)',
        role: 'info',
        ...viaStub('local'),
        producer: `head -c ${bytes} /dev/zero | ${sink}`,
      },
    ];
    const watched = { gateway: remote.gateway.pid, server: remote.server.pid };
    const runs = await interleave(cases, ctx.options.sizes.rounds, async (c) => {
      const before = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuMs(pid)]));
      // `set -o pipefail` is not in dash: the stub's status is checked by the byte count instead.
      const result = await remote.driver.call({
        op: 'run',
        file: 'sh',
        args: ['-c', c.producer],
        env: c.env,
        cwd: c.cwd,
      });
      const cpu = Object.fromEntries(Object.entries(watched).map(([k, pid]) => [k, cpuMs(pid) - before[k]]));
      const line = result.stdout.trim().split('\n').pop() ?? '';
      let report;
      try {
        report = JSON.parse(line);
      } catch {
        throw new Error(`${c.label}: no report (status ${result.code}): ${result.stderr.slice(0, 500)}`);
      }
      if (report.bytes !== bytes)
        throw new Error(
          `${c.label}: ${report.bytes} bytes arrived, ${bytes} expected: ${result.stderr.slice(0, 500)}`,
        );
      return { rate: report.mibPerSecond, seconds: report.seconds, cpu };
    });
    const stats = cases.map((c, i) => ({ ...c, s: summary(runs[i].map((r) => r.rate)) }));
    const [ours, local] = stats;
    // CPU per GiB carried: the gateway's and the tools server's, in the gateway case.
    const perGiB = (key) => summary(runs[0].map((r) => (r.cpu[key] / bytes) * 1024 * MiB));
    const cpu = { gateway: perGiB('gateway'), server: perGiB('server') };
    const seconds = summary(runs[0].map((r) => r.seconds));
    return {
      title: `stdout from a remote \`head -c\`: ${bytes / MiB} MiB through the gateway`,
      subtitle: `median of ${ctx.options.sizes.rounds}; rate from the first byte to the end; K8PSH_NATIVE=1`,
      unit: 'MiB/s',
      better: 'higher',
      bytes,
      bars: medianBars(stats, (c) => c.s),
      rate: Object.fromEntries(stats.map((c) => [c.label, c.s])),
      cpuMsPerGiB: cpu,
      ratios: { 'vs Pod-local stub': round(ours.s.median / local.s.median, 3) },
      targets: [
        { text: `≥ ${GOAL} MiB/s`, actual: `${ours.s.median.toFixed(0)} MiB/s`, met: ours.s.median >= GOAL },
      ],
      note:
        `CPU per GiB through the gateway (median): gateway ${cpu.gateway.median.toFixed(0)} ms, ` +
        `tools server ${cpu.server.median.toFixed(0)} ms, in ${seconds.median.toFixed(2)} s of streaming`,
    };
  });
