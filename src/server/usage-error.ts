/** A bad k8pshd command line: one line on stderr, exit 1. */
export class UsageError extends Error {}
