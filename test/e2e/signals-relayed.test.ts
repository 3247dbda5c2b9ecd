/** The signal cases of ./signals.test.ts with the streams relayed over TCP (K8PSH_DIRECT_STDIO=0). */
process.env.K8PSH_DIRECT_STDIO = '0';
await import('./signals.test.js');
