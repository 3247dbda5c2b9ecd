/** native/front/shared.h: its path, its text generated from the TypeScript now, and the writer. */
export const SHARED_HEADER: string;
export function sharedHeader(): Promise<string>;
export function writeSharedHeader(file?: string): Promise<boolean>;
