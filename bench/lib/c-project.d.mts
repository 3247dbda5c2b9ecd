/** Types of c-project.mjs, for test/scale. */
export declare function generateCProject(
  dir: string,
  units: number,
  options?: { cc?: string; functions?: number },
): void;
export declare function projectOutputs(dir: string): Map<string, Buffer>;
export declare function differingOutputs(expected: Map<string, Buffer>, got: Map<string, Buffer>): string[];
