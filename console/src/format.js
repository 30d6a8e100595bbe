export function num(v, digits = 2) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  return Number(v.toFixed(digits)).toString();
}
export function bytes(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${num(v, 1)} ${units[i]}`;
}
export function time(ms) {
  if (!ms) return '–';
  return new Date(ms).toLocaleString(undefined, { hour12: false });
}
export function ago(ms, now = Date.now()) {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}
export function pct(part, whole) {
  if (!whole || !Number.isFinite(part)) return null;
  return Math.round((100 * part) / whole);
}
