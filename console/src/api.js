// The aggregator's REST API with the signed-in token. The token lives in this
// tab's session storage only: never in a URL, a cookie or local storage.
const KEY = 'prescale.token';

export function token() {
  return sessionStorage.getItem(KEY) || '';
}
export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || '';
    this.field = (body && body.field) || '';
  }
  // What the page says about it.
  get text() {
    if (this.status === 409 && this.field === 'version') {
      return 'Changed by someone else since you opened it: reload to see their change, then edit again.';
    }
    if (this.status === 409) return `Conflict: ${this.message}`;
    if (this.status === 401) return 'Your session has ended: sign in again.';
    if (this.status === 403) return `Not allowed: ${this.message}`;
    if (this.status === 429) return 'Too many requests: wait a moment.';
    return this.field ? `${this.field}: ${this.message}` : this.message;
  }
}

export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
  });
  const text = await r.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text };
    }
  }
  if (!r.ok) {
    const e = new ApiError(r.status, data);
    if (r.status === 401) window.dispatchEvent(new CustomEvent('prescale-unauthorized'));
    throw e;
  }
  return data;
}

export const get = (path) => api('GET', path);

// Every page of a list ({items, next_page_token}); at most `pages` pages.
export async function listAll(path, pages = 50) {
  const items = [];
  let pageToken = '';
  for (let i = 0; i < pages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await get(`${path}${sep}limit=1000${pageToken ? `&page_token=${encodeURIComponent(pageToken)}` : ''}`);
    items.push(...page.items);
    pageToken = page.next_page_token;
    if (!pageToken) break;
  }
  return items;
}

export const enc = encodeURIComponent;

// /metrics text: the value of `name{labels}` (labels as an object, matched exactly on the given ones).
export function metricValue(text, name, labels = {}) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)/);
    if (!m || m[1] !== name) continue;
    const got = {};
    for (const kv of (m[3] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[kv[1]] = kv[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[4]);
  }
  return undefined;
}
