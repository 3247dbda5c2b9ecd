/**
 * The failing tests of a raw TAP stream (tap's output when it is not at a terminal), as paths
 * `file > subtest > assertion`. Only the deepest failures are kept: a failing subtest is implied by
 * the failure inside it. YAML diagnostics are skipped, except what tells why a whole file failed
 * (`exitCode`, `signal`, `expired`): a crashed file has no failing assertion to name.
 */
export function tapFailures(text) {
  const names = [];
  const found = [];
  let yaml = null;
  let last = null;
  for (const line of text.split('\n')) {
    const indent = line.length - line.trimStart().length;
    const body = line.trim();
    if (yaml !== null) {
      if (body === '...' && indent === yaml) yaml = null;
      else if (last && /^(exitCode: [1-9]\d*|signal: SIG\w+|expired: .+)$/.test(body)) last.push(`(${body})`);
      continue;
    }
    if (body === '---') {
      yaml = indent;
      continue;
    }
    const level = Math.floor(indent / 4);
    const subtest = /^# Subtest: (.*)$/.exec(body);
    if (subtest) {
      names.length = level;
      names[level] = subtest[1];
      continue;
    }
    last = null;
    const result = /^(not ok|ok) \d+(?: - (.*?))?(?: # (.*))?$/.exec(body);
    if (!result || result[1] === 'ok' || /^(todo|skip)\b/i.test(result[3] ?? '')) continue;
    last = [...names.slice(0, level), result[2] ?? '(unnamed)'];
    found.push(last);
  }
  // Notes in parentheses are not part of the path.
  const key = (path) => path.filter((part) => !part.startsWith('(')).join('\u0000');
  const paths = found.map(key);
  return found
    .filter((path, i) => !paths.some((other, j) => j !== i && other.startsWith(`${key(path)}\u0000`)))
    .map((path) => path.join(' > ').replace(/ > \(/g, ' ('));
}
