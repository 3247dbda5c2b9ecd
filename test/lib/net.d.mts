/** Types of net.mjs (plain JavaScript, shared with the benchmark). */
export declare function sleep(ms: number): Promise<void>;
export declare function freePort(): Promise<number>;
export declare function canConnect(port: number): Promise<boolean>;
export declare function waitForPort(port: number, timeoutMs: number, isDead?: () => boolean): Promise<void>;
