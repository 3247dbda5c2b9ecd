/** One width for both help screens (k8psh and k8pshd): the terminal's, at most 100 columns. */
export const HELP_WIDTH = (): number => Math.min(100, process.stdout.columns || 100);
