/**
 * Every figure, in the order they are measured and shown. Each takes { ours, reference, options,
 * warmRssMiB?, adopt } and returns { title, unit, better, bars: [{label, value, role, ratio?}], targets, ... },
 * or { skipped: reason } when it cannot be measured here.
 */
import { cProject } from './c-project.mjs';
import { compilerProbes } from './compiler-probes.mjs';
import { concurrentSessions } from './concurrent-sessions.mjs';
import { concurrentStubs } from './concurrent-stubs.mjs';
import { idleRss } from './idle-rss.mjs';
import { remoteConcurrentStubs } from './remote-concurrent-stubs.mjs';
import { remoteIdleRss } from './remote-idle-rss.mjs';
import { remotePlacement } from './remote-placement.mjs';
import { remoteScaleOut } from './remote-scale-out.mjs';
import { remoteStubLatency } from './remote-stub-latency.mjs';
import { remoteStdoutThroughput } from './remote-throughput.mjs';
import { sequentialSessions } from './sequential-sessions.mjs';
import { slowReaderRss } from './slow-reader-rss.mjs';
import { stubLatency } from './stub-latency.mjs';
import { stubPeakRss } from './stub-peak-rss.mjs';
import { stdinThroughput, stdoutThroughput } from './throughput.mjs';

export const FIGURES = {
  idleRss,
  stubLatency,
  stubPeakRss,
  stdoutThroughput,
  stdinThroughput,
  concurrentSessions,
  concurrentStubs,
  cProject,
  compilerProbes,
  slowReaderRss,
  sequentialSessions,
  // Issue 24: a remote section through the gateway, on two simulated nodes, beside Pod-local.
  remoteStubLatency,
  remoteConcurrentStubs,
  remoteStdoutThroughput,
  remoteIdleRss,
  // Issue 25: a tools Deployment of 3 replicas vs 1, reached by a headless Service's name.
  remoteScaleOut,
  remotePlacement,
};
