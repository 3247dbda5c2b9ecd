/** Types of scripts/targets.mjs (used by the build and by test/k8s). */
export type Arch = 'amd64' | 'arm64';
export interface Target {
  npm: string;
  triplet: string;
  loader: string;
  qemu: string;
}
export const TARGETS: Record<Arch, Target>;
export const HOST_ARCH: Arch;
export function targetArch(option?: string): Arch;
export function isCross(arch: Arch): boolean;
export function sysroot(arch: Arch): string;
export function checkCrossTools(arch: Arch): void;
export function pinnedNodeVersion(): string;
export function targetNode(root: string, arch: Arch): string;
export function nodeCommand(arch: Arch, node: string): string[];
export function lddCommand(arch: Arch, file: string): string[];
export function frontCompilers(arch: Arch): string[];
export function crossAddons(
  root: string,
  arch: Arch,
  buildDir: string,
  log: (line: string) => void,
): Record<string, string>;
