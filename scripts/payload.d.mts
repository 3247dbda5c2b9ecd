/** Types of scripts/payload.mjs (used by the build and by test/front). */
export interface PayloadEntry {
  name: string;
  file: string;
  mode: number;
}
export const RUNTIME_PREFIX: string;
export function compileFront(root: string, output: string, compilers?: string[]): string;
export function sharedLibraries(
  files: string[],
  lddCommand?: (file: string) => string[],
): { name: string; file: string }[];
export function assemble(front: string, entries: PayloadEntry[], output: string): string;
export function runtimeBeside(output: string, id: string, entries: PayloadEntry[]): string;
export function entriesSize(entries: PayloadEntry[]): number;
