// The control API's own rules (shared/decide/src/control_model.cc), checked
// before anything is sent: a form that fails here sends nothing.
export const MAX_REPLICAS = 100000;

function wholeNumber(text, min, max) {
  const s = String(text ?? '').trim();
  if (s === '') return { error: 'is required' };
  if (!/^-?\d+$/.test(s)) return { error: 'must be a whole number' };
  const n = Number(s);
  if (n < min || n > max) return { error: `must be between ${min} and ${max}` };
  return { value: n };
}

function number(text, { min, max, minExclusive = false, optional = false }) {
  const s = String(text ?? '').trim();
  if (s === '') return optional ? { value: undefined } : { error: 'is required' };
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return { error: 'must be a number' };
  const n = Number(s);
  if (!Number.isFinite(n) || n < min || n > max || (minExclusive && n === min)) {
    return { error: `must be ${minExclusive ? '>' : '>='} ${min} and <= ${max}` };
  }
  return { value: n };
}

// {errors: {field: message}, value: the object to send} for a service edit.
export function checkService(form, original) {
  const errors = {};
  const min = wholeNumber(form.min, 0, MAX_REPLICAS);
  const max = wholeNumber(form.max, 1, MAX_REPLICAS);
  if (min.error) errors['replicas.min'] = `Minimum replicas ${min.error}`;
  if (max.error) errors['replicas.max'] = `Maximum replicas ${max.error}`;
  if (!min.error && !max.error && min.value > max.value) {
    errors['replicas.min'] = 'Minimum replicas must not exceed maximum replicas';
  }
  if (!['critical', 'high', 'normal', 'low', 'best-effort'].includes(form.priority)) {
    errors.priority = 'Choose a priority';
  }
  if (form.policy && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(form.policy)) {
    errors.policy = 'A policy name is a DNS label';
  }
  const executor = { ...(original.executor || {}) };
  if (['act', 'recommend-only', 'off'].includes(form.mode)) {
    executor.mode = form.mode;
  } else {
    errors.mode = 'Choose a mode';
  }
  executor.type = form.executorType;
  if (form.executorType === 'webhook') {
    if (!/^https?:\/\/[^\s/]+/.test(form.url || '')) errors['executor.url'] = 'A webhook needs an http:// or https:// URL';
    executor.url = form.url;
    executor.secret_file = form.secretFile || '';
    delete executor.namespace;
    delete executor.kind;
    delete executor.name;
  } else if (form.executorType === 'kubernetes') {
    if (!form.namespace) errors['executor.namespace'] = 'A kubernetes executor needs a namespace';
    if (!form.workload) errors['executor.name'] = 'A kubernetes executor needs the workload name';
    executor.namespace = form.namespace;
    executor.kind = form.kind || 'Deployment';
    executor.name = form.workload;
    delete executor.url;
    delete executor.secret_file;
  } else if (form.executorType === 'recommend-only') {
    if (form.mode === 'act') errors['executor.type'] = 'To act, choose a webhook or kubernetes executor';
    for (const k of ['url', 'secret_file', 'namespace', 'kind', 'name']) delete executor[k];
  } else {
    errors['executor.type'] = 'Choose an executor';
  }
  const value = {
    ...original,
    priority: form.priority,
    replicas: { ...(original.replicas || {}), min: min.value, max: max.value },
    policy: form.policy || '',
    executor,
  };
  return { errors, value };
}

const GIB = 1024 ** 3;

export function checkTenant(form, original) {
  const errors = {};
  const cpu = number(form.cpu, { min: 0, max: 1e7, optional: true });
  const mem = number(form.memoryGiB, { min: 0, max: 1e18 / GIB, optional: true });
  const reps = String(form.replicas ?? '').trim() === '' ? { value: undefined } : wholeNumber(form.replicas, 0, MAX_REPLICAS * 100);
  const weight = number(form.weight, { min: 0, max: 1e6, minExclusive: true });
  if (cpu.error) errors['quotas.cpu_cores'] = `CPU quota ${cpu.error}`;
  if (mem.error) errors['quotas.memory_bytes'] = `Memory quota ${mem.error}`;
  if (reps.error) errors['quotas.replicas'] = `Replica quota ${reps.error}`;
  if (weight.error) errors.weight = `Weight ${weight.error}`;
  if (typeof form.displayName !== 'string' || form.displayName.length > 1000 || form.displayName.includes('\0')) {
    errors.display_name = 'Display name must be text';
  }
  const quotas = {};
  if (cpu.value !== undefined) quotas.cpu_cores = cpu.value;
  if (mem.value !== undefined) quotas.memory_bytes = Math.round(mem.value * GIB);
  if (reps.value !== undefined) quotas.replicas = reps.value;
  return { errors, value: { ...original, display_name: form.displayName, quotas, weight: weight.value } };
}

export const gib = (b) => (b === undefined || b === null ? '' : String(Number((b / GIB).toFixed(3))));
