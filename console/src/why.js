import { num } from './format.js';

// The chain of a decision in words and numbers:
// use -> forecast at the policy's horizon -> desired -> behaviour -> arbitration -> granted -> cap.
// Each step: {key, label, text}.

function desiredFrom(demand, request, target) {
  if (!(demand > 0) || !(request > 0)) return null;
  return Math.ceil(demand / (request * (target || 0.8)));
}

function arbitration(steps, { constrained, limitedBy, priority, tenant, desired, granted }) {
  if (constrained) {
    steps.push({
      key: 'limit',
      label: 'Quota, capacity, priority',
      text: `constrained by ${limitedBy || 'arbitration'}: ${granted} of the ${desired} wanted replicas fit (priority ${priority || '?'}, tenant ${tenant})`,
      flag: 'constrained',
    });
  } else {
    steps.push({
      key: 'limit',
      label: 'Quota, capacity, priority',
      text: `fits tenant ${tenant}'s quota and the cluster's capacity at priority ${priority || '?'}`,
    });
  }
}

function tail(steps, { from, granted, execute, hold, cap }) {
  const change = granted > from ? `scale up ${from} → ${granted}` : granted < from ? `scale down ${from} → ${granted}` : `stay at ${granted}`;
  steps.push({
    key: 'granted',
    label: 'Granted',
    text: `${granted} replicas: ${change}${execute === false ? ' (recommended only, not executed)' : ''}${hold ? `; held: ${hold.message || hold.reason}` : ''}`,
  });
  steps.push({
    key: 'cap',
    label: 'CPU cap',
    text: cap === null || cap === undefined ? 'none' : `capped at ${num(cap)} cores on the nodes (low priority, constrained)`,
    flag: cap === null || cap === undefined ? '' : 'throttled',
  });
}

// The current decision. `use` and `forecast` are this page's reads of
// /api/v1/series and /api/v1/forecasts; the decision is /api/v1/decisions'.
export function currentChain({ decision, service, policy, use, forecast, resource = 'cpu' }) {
  const steps = [];
  if (!decision) return steps;
  const mode = policy?.mode || 'predictive';
  const horizon = policy?.horizon || 'the default horizon';
  const request = service?.requests?.[`${resource === 'cpu' ? 'cpu_cores' : 'memory_bytes'}`];
  const target = service?.target_utilization?.[resource];
  // The engine's own reading ("cpu use 0.3 / (0.05 x 0.8)"): the last 30 s, newer than the newest minute.
  const read = /(\w+) (use|forecast) ([-+\d.e]+)/.exec(decision.reason || '');
  const engineUse = read && read[1] === resource && read[2] === 'use' ? Number(read[3]) : undefined;
  const unit = resource === 'cpu' ? 'cores' : 'bytes';
  const parts = [];
  if (engineUse !== undefined) parts.push(`${num(engineUse)} ${unit} (the engine's reading of the last 30 s)`);
  if (use !== undefined) parts.push(`${num(use)} ${unit} in the newest complete minute`);
  steps.push({ key: 'use', label: 'Use', text: parts.length ? parts.join('; ') : 'no use reported yet' });
  let demand = engineUse ?? use;
  if (mode === 'predictive' && forecast) {
    steps.push({
      key: 'forecast',
      label: `Forecast at ${horizon}`,
      text: `${num(forecast.point)} expected, upper bound ${num(forecast.upper)} (interval ${num(forecast.lower)}–${num(forecast.upper)}, model ${forecast.model})`,
    });
    demand = Math.max(demand ?? 0, forecast.upper);
  } else {
    steps.push({
      key: 'forecast',
      label: `Forecast at ${horizon}`,
      text: mode === 'predictive' ? 'no usable forecast yet (under 15 minutes of history): scaled on use' : `not used (policy mode ${mode})`,
    });
  }
  const raw = desiredFrom(demand, request, target);
  steps.push({
    key: 'desired',
    label: 'Desired replicas',
    text: `${raw ?? decision.desired}${raw ? ` = ⌈${num(demand)} / (${num(request)} × ${num(target || 0.8)})⌉` : ''}; the engine: ${decision.reason || decision.driver}`,
  });
  const min = service?.replicas?.min;
  const max = service?.replicas?.max;
  steps.push({
    key: 'behaviour',
    label: 'Behaviour limits',
    text:
      raw !== null && raw !== decision.desired
        ? `${decision.desired} after the policy's stabilisation and rate limits and min ${min} / max ${max}`
        : `${decision.desired} (within min ${min} / max ${max} and the policy's rates)`,
    flag: raw !== null && raw !== decision.desired ? 'bounded' : '',
  });
  arbitration(steps, {
    constrained: decision.constrained,
    limitedBy: decision.limited_by,
    priority: service?.priority,
    tenant: decision.tenant,
    desired: decision.desired,
    granted: decision.to_replicas,
  });
  tail(steps, {
    from: decision.from_replicas,
    granted: decision.to_replicas,
    execute: decision.execute,
    hold: decision.hold,
    cap: decision.cpu_cap_cores,
  });
  return steps;
}

// A past action, from its audit record (action scale or recommend).
export function auditChain(record, service) {
  const a = record.after || {};
  const steps = [];
  const demand = a.demand || {};
  const resources = Object.keys(demand);
  steps.push({
    key: 'use',
    label: 'Use',
    text: resources.length ? resources.map((r) => `${r} ${num(demand[r].current)}`).join(', ') : 'not recorded',
  });
  steps.push({
    key: 'forecast',
    label: 'Forecast',
    text: resources.length
      ? resources
          .map((r) => (demand[r].forecast_upper === null || demand[r].forecast_upper === undefined ? `${r}: none` : `${r}: upper ${num(demand[r].forecast_upper)} (${demand[r].model || 'model ?'})`))
          .join(', ')
      : 'not recorded',
  });
  steps.push({ key: 'desired', label: 'Desired replicas', text: `${a.desired}: ${a.reason || a.driver || ''}` });
  steps.push({ key: 'behaviour', label: 'Behaviour limits', text: `driver ${a.driver || '?'}, policy ${a.policy || '(default)'}, trigger ${a.trigger || 'tick'}` });
  arbitration(steps, {
    constrained: a.constrained,
    limitedBy: a.limited_by,
    priority: service?.priority,
    tenant: record.tenant,
    desired: a.desired,
    granted: a.replicas,
  });
  if (a.tenant_use) {
    steps.push({ key: 'tenant_use', label: 'Tenant use', text: `${num(a.tenant_use.cpu_cores)} cores, ${a.tenant_use.replicas} replicas granted across the tenant` });
  }
  tail(steps, {
    from: record.before?.replicas,
    granted: a.replicas,
    execute: record.action === 'scale',
    hold: a.hold,
    cap: a.cpu_cap_cores,
  });
  return steps;
}
