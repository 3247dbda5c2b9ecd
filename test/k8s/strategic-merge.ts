/**
 * A Kubernetes strategic merge patch of a PodSpec, for the fields our patches touch: what the GitLab
 * runner's `pod_spec` with `patch_type = "strategic"` does to the Pod it generates (it calls
 * apimachinery's strategicpatch). Maps merge key by key; a list whose items carry the field's patch
 * merge key (containers and volumes by `name`, volumeMounts by `mountPath`, ports by `containerPort`)
 * merges item by item and appends new items; any other list, and every scalar, is replaced; `null`
 * deletes. The `$patch` directives are not implemented: a patch using one throws.
 */

/** PodSpec and Container fields that merge by key (patchMergeKey in the Kubernetes API types). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
};

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isMap(value: unknown): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function strategicMerge(base: Json, patch: Json, field = ''): Json {
  if (isMap(patch)) {
    if (Object.keys(patch).some((key) => key.startsWith('$')))
      throw new Error(`strategic merge directives are not implemented (${field})`);
    const result: Record<string, Json> = isMap(base) ? { ...base } : {};
    for (const [key, value] of Object.entries(patch)) {
      if (value === null) delete result[key];
      else result[key] = strategicMerge(result[key] ?? null, value, key);
    }
    return result;
  }
  const key = MERGE_KEYS[field];
  if (Array.isArray(patch) && Array.isArray(base) && key) {
    const result = [...base];
    for (const item of patch) {
      const id = isMap(item) ? item[key] : undefined;
      const at = id === undefined ? -1 : result.findIndex((old) => isMap(old) && old[key] === id);
      if (at < 0) result.push(item);
      else result[at] = strategicMerge(result[at] ?? null, item, '');
    }
    return result;
  }
  return patch;
}
