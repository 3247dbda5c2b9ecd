/**
 * How every message of ours is printed: `k8psh: …` (`k8pshd: …` for the server's own). The protocol
 * carries it too: an original client gets a refusal as this line in STDERR_DATA.
 */
export function errorLine(message: string, program: 'k8psh' | 'k8pshd' = 'k8psh'): string {
  return `${program}: ${message}\n`;
}

/** For messages: a peer's string, short and without control characters. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 80 ? `${clean.slice(0, 77)}...` : clean;
}
