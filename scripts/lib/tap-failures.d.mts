/** The failing tests of a raw TAP stream, as `file > subtest > assertion` paths (deepest only). */
export function tapFailures(text: string): string[];
