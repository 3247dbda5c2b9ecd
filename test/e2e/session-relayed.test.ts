/**
 * The sessions of ./session.test.ts with the streams relayed over TCP (K8PSH_DIRECT_STDIO=0), as for
 * a client that cannot pass its descriptors (another network namespace, an original server, ...).
 */
process.env.K8PSH_DIRECT_STDIO = '0';
await import('./session.test.js');
