/** Types of c-project.mjs, for test/scale. */
export declare function generateCProject(dir: string, units: number, options?: { cc?: string }): void;
