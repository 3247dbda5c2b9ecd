/**
 * What a CI agent's job does in the played Pods, as a POSIX sh script: a small C project (two units
 * and a header) written into the workspace, as a checkout would put it there, then built by `make`,
 * the way a `sh 'make'` step or a GitLab `script:` line runs it. Shared by the Jenkins and GitLab
 * plays (test/podman/ci-agents.test.ts).
 */

/** What the program built from the project prints. */
export const GREETING = 'hello from a program built in the tools container';

const FILES: Record<string, string> = {
  'greet.h': 'void greet(void);\n',
  'greet.c': `#include <stdio.h>\n#include "greet.h"\nvoid greet(void) { puts("${GREETING}"); }\n`,
  'main.c': '#include "greet.h"\nint main(void) { greet(); return 0; }\n',
  // make's own rule builds each .o with $(CC) (cc); the link is ours.
  Makefile: 'OBJS = main.o greet.o\nhello: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\nmain.o greet.o: greet.h\n',
};

/** The objects and program make leaves in the project directory. */
export const PRODUCTS = ['main.o', 'greet.o', 'hello'];

function quoted(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** sh lines that create `dir` and write the project into it (printf: no heredoc, no echo -e). */
export function writeProject(dir: string): string[] {
  return [
    `mkdir -p ${quoted(dir)}`,
    ...Object.entries(FILES).map(
      ([name, text]) => `printf '%s' ${quoted(text)} > ${quoted(`${dir}/${name}`)}`,
    ),
  ];
}

/** sh lines that print `label` and the nanoseconds `command` took; exits if it fails. */
export function timed(label: string, command: string): string[] {
  return [`start=$(date +%s%N)`, command, `echo "${label} $(( $(date +%s%N) - start ))"`];
}

/** The nanoseconds printed by timed() under `label`, in milliseconds. */
export function timing(output: string, label: string): number {
  const match = new RegExp(`^${label} (\\d+)\\r?$`, 'm').exec(output);
  if (match === null) throw new Error(`no "${label}" timing in: ${output}`);
  return Number(match[1]) / 1e6;
}
