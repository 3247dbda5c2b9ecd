/**
 * The original's files in test/fixtures/original are copies: where the reference files sit beside
 * the checkout (CI's layout), they must still be identical. Anywhere else this says it skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { originalDir, referenceDir } from './fixtures/helpers.js';

const absent = existsSync(referenceDir)
  ? false
  : `the original's reference files are not beside this checkout (${referenceDir}): nothing to compare`;

t.test('the copies of the original files match the reference', { skip: absent }, async (t) => {
  for (const name of ['k8psh_example.conf', 'k8s.conf'])
    t.equal(
      readFileSync(path.join(originalDir, name), 'utf8'),
      readFileSync(path.join(referenceDir, name), 'utf8'),
      name,
    );
});
