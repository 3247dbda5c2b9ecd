/**
 * The executable: the static front (native/front, C) compiled for the target, the staged runtime
 * appended to it (scripts/payload.mjs), the runtime directory beside it so that it runs where it is
 * built, and the symlink OUT/k8pshd -> NAME.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { assemble, compileFront, runtimeBeside } from '../payload.mjs';
import { writeSharedHeader } from '../shared-header.mjs';
import { frontCompilers } from '../targets.mjs';
import { root } from './root.mjs';

/** { target: OUT/NAME, front: the front alone, compiler: the one that built it, beside, link }. */
export async function writeBinary({ options, buildDir, entries }) {
  // The front includes what the TypeScript owns (native/front/shared.h): written first when it differs.
  await writeSharedHeader();
  const target = path.join(options.out, options.name);
  const front = path.join(buildDir, 'front');
  const compiler = compileFront(root, front, frontCompilers(options.arch));
  const id = assemble(front, entries, target);
  const beside = runtimeBeside(target, id, entries);
  const link = path.join(options.out, 'k8pshd');
  fs.rmSync(link, { force: true });
  fs.symlinkSync(options.name, link);
  return { target, front, compiler, beside, link };
}
