// The web console in a real browser (issue 18, docs/console.md): Debian's
// chromium, headless, driven by puppeteer-core (console/node_modules; nothing
// downloads a browser), against the real prescale-aggregator and prescale-agent
// that prescale-console-fixture starts on 127.0.0.1 with real cgroups and
// prescale-test-burner as the load. Run by CTest (console_browser_test) as
//   node --test tests/console/console_test.mjs
// with PRESCALE_BIN_DIR (build/bin) and PRESCALE_ARTIFACTS_DIR (screenshots).
// Skipped, saying why, without chromium or without usable cgroups.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const binDir = process.env.PRESCALE_BIN_DIR || join(root, 'build/bin');
const artifacts = process.env.PRESCALE_ARTIFACTS_DIR || join(root, 'build/test-artifacts/console');
const chromiumPath = process.env.PRESCALE_CHROMIUM || '/usr/bin/chromium';
const requireConsole = createRequire(join(root, 'console/package.json'));

let skip = '';
if (!existsSync(chromiumPath)) skip = `chromium is not installed at ${chromiumPath} (Debian package chromium; scripts/setup installs it)`;
else if (!existsSync(join(root, 'console/node_modules/puppeteer-core'))) skip = 'console/node_modules is missing: build the aggregator first (it runs npm ci)';
else if (!existsSync(join(binDir, 'prescale-console-fixture'))) skip = `${binDir}/prescale-console-fixture is missing: build the prescale-console-fixture target`;

// Polls `fn` until it returns a truthy value or the deadline passes (then fails with `what`).
async function until(what, fn, timeoutMs = 60000, everyMs = 500) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
}

class Fixture {
  async start() {
    this.proc = spawn(join(binDir, 'prescale-console-fixture'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.lines = createInterface({ input: this.proc.stdout });
    this.waiting = [];
    this.queue = [];
    this.lines.on('line', (l) => (this.waiting.length ? this.waiting.shift()(l) : this.queue.push(l)));
    const first = JSON.parse(await this.next(60000));
    Object.assign(this, first);
    return first;
  }
  next(timeoutMs = 30000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('the fixture did not answer')), timeoutMs);
      this.waiting.push((l) => {
        clearTimeout(t);
        res(l);
      });
    });
  }
  async command(line) {
    this.proc.stdin.write(line + '\n');
    const answer = await this.next();
    assert.equal(answer, 'ok', `fixture: ${line}: ${answer}`);
  }
  async stop() {
    if (!this.proc || this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 60000))]);
  }
}

// Straight to the aggregator, as a script would (not through the page).
async function rest(method, path, token, body) {
  const r = await fetch(fixture.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

const fixture = new Fixture();
let browser;
let puppeteer;
let axeSource;
const cspViolations = [];
const pageErrors = [];

async function newPage() {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.sent = [];
  page.on('request', (r) => page.sent.push({ method: r.method(), url: r.url() }));
  return page;
}

async function signIn(page, role) {
  await page.goto(`${fixture.url}/ui`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#token');
  assert.match(page.url(), /\/ui\/signin$/);
  await page.type('#token', fixture.tokens[role]);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=who]');
  return page;
}

const text = (page, selector) => page.$eval(selector, (e) => e.textContent.trim());
async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, `console-${name}.png`), fullPage: true });
}
// Serious and critical axe-core violations of the page as it is.
async function axe(page) {
  await page.evaluate(axeSource); // CDP evaluation: not an inline script, so the page's CSP allows it
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
// Every visible control can be reached with Tab.
async function expectKeyboardReachable(page) {
  const controls = await page.$$eval('a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])', (els) =>
    els.filter((e) => e.offsetParent !== null && !e.disabled).map((e) => e.id || e.outerHTML.slice(0, 80)),
  );
  await page.evaluate(() => document.activeElement?.blur());
  const reached = new Set();
  for (let i = 0; i < controls.length * 2 + 10; i++) {
    await page.keyboard.press('Tab');
    reached.add(await page.evaluate(() => document.activeElement.id || document.activeElement.outerHTML.slice(0, 80)));
  }
  const missing = controls.filter((c) => !reached.has(c));
  assert.deepEqual(missing, [], 'controls that Tab never reaches');
  // Each form control has a label.
  const unlabelled = await page.$$eval('input, select', (els) =>
    els.filter((e) => e.offsetParent !== null && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.outerHTML.slice(0, 80)),
  );
  assert.deepEqual(unlabelled, [], 'controls without a label');
}

describe('prescale console', { skip: skip || false, concurrency: false }, () => {
  before(async () => {
    mkdirSync(artifacts, { recursive: true });
    const started = await fixture.start();
    if (started.skip) {
      skip = started.skip;
      console.log(`console_browser_test SKIPPED: ${skip}`);
      return;
    }
    puppeteer = requireConsole('puppeteer-core');
    axeSource = readFileSync(requireConsole.resolve('axe-core/axe.min.js'), 'utf8');
    browser = await puppeteer.launch({
      executablePath: chromiumPath,
      userDataDir: mkdtempSync(join(tmpdir(), 'prescale-chromium-')),
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
  });
  after(async () => {
    const dir = browser?.process()?.spawnargs?.find((a) => a.startsWith('--user-data-dir='))?.slice(16);
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await fixture.stop();
  });

  test('/ui serves the console; each role signs in and the token stays out of URLs', async (t) => {
    if (skip) return t.skip(skip);
    const bad = await newPage();
    await bad.goto(`${fixture.url}/ui/`, { waitUntil: 'networkidle0' });
    await bad.type('#token', 'not-a-token');
    await bad.keyboard.press('Enter');
    await until('the refusal', async () => (await text(bad, '#token-error')).includes('not accepted'));
    for (const role of ['admin', 'operator', 'viewer']) {
      const page = await signIn(await newPage(), role);
      assert.match(await text(page, '[data-test=who]'), new RegExp(`^${role}`));
      assert.equal(await page.evaluate(() => sessionStorage.getItem('prescale.token')), fixture.tokens[role]);
      assert.ok(page.sent.every((r) => !r.url.includes(fixture.tokens[role])), 'a URL carried the token');
      if (role !== 'admin') assert.match(page.url(), /\/ui\/tenants\/acme$/);
      await page.close();
    }
    const csp = (await fetch(`${fixture.url}/ui/`)).headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
  });

  test('service view: use rises and a scale-up marker appears after the load starts; Why names the quota', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'operator');
    await page.goto(`${fixture.url}/ui/tenants/acme/services/web`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('[data-test=replicas]');
    await fixture.command('load web 0.3');
    const started = Date.now();
    // Use in the Why chain: above 0.15 cores once the burner's minutes reach the aggregator.
    await until(
      'the use to rise',
      async () => {
        const use = await page.$eval('.why [data-step=use]', (e) => e.textContent).catch(() => '');
        const m = use.match(/Use: ([\d.]+)/);
        return m && Number(m[1]) > 0.15;
      },
      180000,
    );
    await until('a scale-up marker', async () => Number((await text(page, '[data-test=markers]')).split(' ')[0]) >= 1, 120000);
    const [, , granted] = (await text(page, '[data-test=replicas]')).split('/').map((s) => Number(s.trim()));
    assert.ok(granted > 1, `granted ${granted} replicas`);
    console.log(`[ figures ] load to scale-up marker in the page: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // 0.3 cores at 0.05 x 0.8 per replica wants 8; acme's CPU quota of 0.25 cores holds 5.
    await until('the quota in the Why panel', async () => (await text(page, '.why [data-step=limit]')).includes('tenant quota cpu'), 60000);
    await shot(page, 'service');
    await page.$eval('.why', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(artifacts, 'console-why.png') });
    // The action's own Why, from its audit record.
    await page.click('.actions button');
    await page.waitForSelector('.actions .why');
    assert.match(await text(page, '.actions .why'), /Desired replicas/);
    await page.close();
  });

  test('an operator changes max replicas and the next decision respects it', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'operator');
    await page.goto(`${fixture.url}/ui/tenants/acme/services/web`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#svc-replicas-max');
    await page.click('#svc-replicas-max', { clickCount: 3 });
    await page.type('#svc-replicas-max', '3');
    await page.click('form.edit button[type=submit]');
    await until('the save', async () => (await text(page, '[data-test=service-notice]')).startsWith('Saved'));
    assert.equal(await text(page, '[data-test=bounds]'), '1 / 3');
    await until(
      'a decision within max 3',
      async () => {
        const d = (await rest('GET', '/api/v1/decisions?tenant=acme', fixture.tokens.operator)).body.data.find((x) => x.service === 'web');
        return d && d.to_replicas <= 3 && d.desired <= 3;
      },
      30000,
    );
    await until('the page to show it', async () => {
      const [, desired, granted] = (await text(page, '[data-test=replicas]')).split('/').map((s) => Number(s.trim()));
      return desired <= 3 && granted <= 3;
    });
    const audit = (await rest('GET', '/api/v1/audit?tenant=acme&kind=service', fixture.tokens.admin)).body.items;
    assert.ok(audit.some((a) => a.action === 'replace' && a.actor_role === 'operator' && a.after?.replicas?.max === 3), 'the change is audited');
    await page.close();
  });

  test('a stale edit gets the "changed by someone else" message', async (t) => {
    if (skip) return t.skip(skip);
    const stale = await signIn(await newPage(), 'operator');
    await stale.goto(`${fixture.url}/ui/tenants/acme/services/batch`, { waitUntil: 'networkidle0' });
    await stale.waitForSelector('#svc-replicas-min');
    await stale.click('#svc-replicas-max', { clickCount: 3 });
    await stale.type('#svc-replicas-max', '9');
    // Someone else changes batch meanwhile.
    const current = (await rest('GET', '/api/v1/tenants/acme/services/batch', fixture.tokens.admin)).body;
    const changed = await rest('PUT', '/api/v1/tenants/acme/services/batch', fixture.tokens.admin, { ...current, priority: 'normal' });
    assert.equal(changed.status, 200);
    await stale.click('form.edit button[type=submit]');
    await until('the 409 message', async () => (await text(stale, '[data-test=service-notice]')).includes('Changed by someone else'));
    await shot(stale, 'conflict');
    await stale.close();
  });

  test('a viewer finds no edit control, and a forged change from the page gets 403', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'viewer');
    for (const path of ['/ui/tenants/acme', '/ui/tenants/acme/services/web']) {
      await page.goto(fixture.url + path, { waitUntil: 'networkidle0' });
      await page.waitForSelector('main h1');
      await until('the page to load', async () => (await page.$$('table, [data-test=replicas]')).length > 0);
      assert.equal((await page.$$('form.edit')).length, 0, `${path}: an edit form`);
      const buttons = await page.$$eval('button', (bs) => bs.map((b) => b.textContent.trim()));
      assert.ok(!buttons.some((b) => /save|edit|approve/i.test(b)), `${path}: ${buttons}`);
    }
    assert.match(await text(page, '[data-test=read-only]'), /viewer/);
    await shot(page, 'viewer');
    const forged = await page.evaluate(async () => {
      const token = sessionStorage.getItem('prescale.token');
      const get = await fetch('/api/v1/tenants/acme/services/web', { headers: { Authorization: `Bearer ${token}` } });
      const body = await get.json();
      const put = await fetch('/api/v1/tenants/acme/services/web', {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ ...body, replicas: { ...body.replicas, max: 50 } }),
      });
      return { status: put.status, body: await put.json() };
    });
    assert.equal(forged.status, 403, JSON.stringify(forged.body));
    assert.equal(forged.body.error, 'forbidden');
    await page.close();
  });

  test('an operator puts a service in recommend-only from the form and approves a recommendation once: a stale one gets 409, the next one reaches the webhook', async (t) => {
    if (skip) return t.skip(skip);
    // other/advice is sized on web's use (the load started above), has the fixture's webhook and starts in executor mode off.
    const decisionOf = async () =>
      (await rest('GET', '/api/v1/decisions?tenant=other', fixture.tokens.admin)).body.data.find((x) => x.service === 'advice');
    const page = await signIn(await newPage(), 'other_operator');
    await page.goto(`${fixture.url}/ui/tenants/other/services/advice`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#svc-mode');
    assert.equal(await page.$eval('#svc-mode', (e) => e.value), 'off');
    assert.equal(await page.$('[data-test=approve]'), null, 'off: nothing to approve');
    await page.select('#svc-mode', 'recommend-only');
    await page.click('form.edit button[type=submit]');
    await until('the save', async () => (await text(page, '[data-test=service-notice]')).startsWith('Saved'));
    const saved = (await rest('GET', '/api/v1/tenants/other/services/advice', fixture.tokens.admin)).body;
    assert.equal(saved.executor.mode, 'recommend-only', JSON.stringify(saved.executor));
    assert.equal(saved.executor.type, 'webhook', 'the executor is kept');
    await until('the mode in the summary', async () => (await text(page, '[data-test=executor]')) === 'webhook, mode recommend-only');
    await until('the approve button', async () => (await page.$('[data-test=approve]')) !== null, 180000);
    const shown = Number((await text(page, '[data-test=approve]')).match(/Approve (\d+) replicas/)[1]);
    await page.click('[data-test=approve]');
    await page.waitForSelector('[data-test=approve-confirm]');
    assert.match(await text(page, '[data-test=approve-confirm]'), new RegExp(`to ${shown} replicas once, through its webhook executor`));
    // Meanwhile an admin approves the same recommendation and the leader acts on it.
    const byAdmin = await rest('POST', '/api/v1/tenants/other/services/advice/approve', fixture.tokens.admin, { replicas: shown });
    assert.equal(byAdmin.status, 202, JSON.stringify(byAdmin.body));
    await until('the admin\'s approval carried out', async () => (await decisionOf())?.from_replicas === shown, 30000);
    // What the operator confirms is stale now: 409, shown with the reason.
    await page.click('[data-test=approve-yes]');
    await until('the 409', async () => (await text(page, '[data-test=approve-notice]')).startsWith('Not approved (409)'));
    await shot(page, 'approve-conflict');
    // The next recommendation (2 more a minute), approved by the operator: one action.
    await until('the next recommendation', async () => (await page.$('[data-test=approve]')) !== null, 120000);
    const next = Number((await text(page, '[data-test=approve]')).match(/Approve (\d+) replicas/)[1]);
    assert.ok(next > shown, `${next} after ${shown}`);
    await page.click('[data-test=approve]');
    await page.click('[data-test=approve-yes]');
    await until('the approval', async () => (await text(page, '[data-test=approve-notice]')).startsWith('Approved'));
    await until(
      'the action in the page',
      async () => (await page.$$eval('.actions li button', (bs) => bs.map((b) => b.textContent))).some((b) => b.includes(`scale ${shown} → ${next}`)),
      30000,
    );
    await shot(page, 'approve');
    const audit = async () => (await rest('GET', '/api/v1/audit?tenant=other&kind=service&limit=1000', fixture.tokens.admin)).body.items.filter((a) => a.name === 'advice');
    const records = await audit();
    const scales = records.filter((a) => a.action === 'scale');
    assert.equal(scales.length, 2, JSON.stringify(scales.map((a) => a.after)));
    const approvals = records.filter((a) => a.action === 'approve' && a.status === 202);
    assert.equal(approvals.length, 2);
    assert.equal(approvals[1].actor_role, 'operator');
    assert.equal(scales[1].after.replicas, next);
    assert.equal(scales[1].after.trigger, `approval:${approvals[1].actor}`);
    assert.equal(scales[1].after.approval_seq, approvals[1].seq);
    assert.ok(records.some((a) => a.action === 'approve' && a.status === 409 && a.actor_role === 'operator'), 'the refused approval is audited');
    // Each action reached the fixture's webhook receiver once.
    await until('both deliveries', async () => (await audit()).filter((a) => a.action === 'scale.delivered').length === 2, 60000);
    // Once: the service recommends again from what it runs now.
    await until('the decision from the new replicas', async () => (await decisionOf())?.from_replicas === next, 30000);
    assert.equal((await audit()).filter((a) => a.action === 'scale').length, 2);
    await page.close();
  });

  test('a service without an executor shows and keeps recommend-only, and its edit saves', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'other_operator');
    await page.goto(`${fixture.url}/ui/tenants/other/services/ledger`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#svc-mode');
    assert.equal(await text(page, '[data-test=executor]'), 'recommend-only, mode recommend-only');
    assert.equal(await page.$eval('#svc-mode', (e) => e.value), 'recommend-only');
    assert.equal(await page.$eval('#svc-executor-type', (e) => e.value), 'recommend-only');
    await page.click('#svc-replicas-max', { clickCount: 3 });
    await page.type('#svc-replicas-max', '6');
    await page.click('form.edit button[type=submit]');
    await until('the save', async () => (await text(page, '[data-test=service-notice]')).startsWith('Saved'));
    const saved = (await rest('GET', '/api/v1/tenants/other/services/ledger', fixture.tokens.admin)).body;
    assert.equal(saved.replicas.max, 6);
    assert.deepEqual(saved.executor, { type: 'recommend-only', mode: 'recommend-only' });
    await page.close();
  });

  test('a viewer sees no approve button, and a forged approval from the page gets 403', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'other_viewer');
    await page.goto(`${fixture.url}/ui/tenants/other/services/advice`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('[data-test=read-only]');
    await until('the decision in the page', async () => !(await text(page, '[data-test=replicas]')).includes('–'));
    const buttons = await page.$$eval('button', (bs) => bs.map((b) => b.textContent.trim()));
    assert.ok(!buttons.some((b) => /approve/i.test(b)), String(buttons));
    assert.equal(await page.$('[data-test=approve-notice]'), null);
    const forged = await page.evaluate(async () => {
      const token = sessionStorage.getItem('prescale.token');
      const d = await (await fetch('/api/v1/decisions?tenant=other', { headers: { Authorization: `Bearer ${token}` } })).json();
      const advice = d.data.find((x) => x.service === 'advice');
      const r = await fetch('/api/v1/tenants/other/services/advice/approve', {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ replicas: advice.to_replicas }),
      });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(forged.status, 403, JSON.stringify(forged.body));
    assert.equal(forged.body.error, 'forbidden');
    await page.close();
  });

  test('bad input in every form: a message by the field and nothing sent', async (t) => {
    if (skip) return t.skip(skip);
    // Sign-in.
    const signin = await newPage();
    await signin.goto(`${fixture.url}/ui/signin`, { waitUntil: 'networkidle0' });
    signin.sent.length = 0;
    await signin.click('form button[type=submit]');
    assert.match(await text(signin, '#token-error'), /Paste an API token/);
    await signin.type('#token', 'two words');
    await signin.click('form button[type=submit]');
    assert.match(await text(signin, '#token-error'), /no spaces/);
    assert.equal(signin.sent.filter((r) => r.url.includes('/api/')).length, 0, 'the sign-in sent a request');
    // Service (operator).
    const page = await signIn(await newPage(), 'operator');
    await page.goto(`${fixture.url}/ui/tenants/acme/services/web`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('#svc-replicas-min');
    const cases = [
      ['#svc-replicas-min', 'abc', '#svc-replicas-min-error', /whole number/],
      ['#svc-replicas-min', '-1', '#svc-replicas-min-error', /between 0 and 100000/],
      ['#svc-replicas-max', '0', '#svc-replicas-max-error', /between 1 and 100000/],
      ['#svc-replicas-min', '7', '#svc-replicas-min-error', /must not exceed maximum/],
      ['#svc-executor-url', 'ftp://deployer', '#svc-executor-url-error', /http:\/\/ or https:\/\//],
    ];
    for (const [input, value, error, message] of cases) {
      await page.click('form.edit button[type=button]'); // discard: back to the stored values
      await page.click(input, { clickCount: 3 });
      await page.type(input, value);
      page.sent.length = 0;
      await page.click('form.edit button[type=submit]');
      await page.waitForSelector(error);
      assert.match(await text(page, error), message, `${input}=${value}`);
      assert.equal(await page.$eval(input, (e) => e.getAttribute('aria-invalid')), 'true');
      assert.equal(page.sent.filter((r) => r.method === 'PUT').length, 0, `${input}=${value} was sent`);
    }
    await shot(page, 'service-invalid');
    // Tenant (admin).
    const admin = await signIn(await newPage(), 'admin');
    await admin.goto(`${fixture.url}/ui/tenants/acme`, { waitUntil: 'networkidle0' });
    await admin.waitForSelector('#tenant-weight');
    const tenantCases = [
      ['#tenant-quotas-cpu_cores', '-1', /CPU quota must be >= 0/],
      ['#tenant-quotas-memory_bytes', 'lots', /Memory quota must be a number/],
      ['#tenant-quotas-replicas', '1.5', /whole number/],
      ['#tenant-weight', '0', /Weight must be > 0/],
    ];
    for (const [input, value, message] of tenantCases) {
      await admin.click('form.edit button[type=button]');
      await admin.click(input, { clickCount: 3 });
      await admin.type(input, value);
      admin.sent.length = 0;
      await admin.click('form.edit button[type=submit]');
      await admin.waitForSelector(`${input}-error`);
      assert.match(await text(admin, `${input}-error`), message, `${input}=${value}`);
      assert.equal(admin.sent.filter((r) => r.method === 'PUT').length, 0, `${input}=${value} was sent`);
    }
    // A valid tenant edit goes through.
    await admin.click('form.edit button[type=button]');
    await admin.click('#tenant-weight', { clickCount: 3 });
    await admin.type('#tenant-weight', '2');
    await admin.click('form.edit button[type=submit]');
    await until('the tenant save', async () => (await text(admin, '[data-test=tenant-notice]')).startsWith('Saved'));
    await shot(admin, 'tenant');
    for (const p of [signin, page, admin]) await p.close();
  });

  test('fleet and audit views; the audit chain verifies', async (t) => {
    if (skip) return t.skip(skip);
    const page = await signIn(await newPage(), 'admin');
    await until('the agent in the fleet view', async () => (await page.$$('[data-test=agent]')).length >= 1, 30000);
    assert.ok(await page.$('tr[data-tenant=acme]'));
    assert.ok(await page.$('tr[data-tenant=other]'));
    await until('a constrained service', async () => (await page.$$('[data-test=constrained]')).length >= 1, 30000).catch(() => {});
    await shot(page, 'fleet');
    await page.goto(`${fixture.url}/ui/audit`, { waitUntil: 'networkidle0' });
    await until('the verification', async () => (await text(page, '[data-test=verification]')).startsWith('Verified by the aggregator'));
    assert.match(await text(page, '[data-test=links]'), /links between the records shown checked/);
    await page.select('#f-action', 'replace');
    const actions = await page.$$eval('tbody tr', (rows) => rows.map((r) => r.dataset.action));
    assert.ok(actions.length >= 1 && actions.every((a) => a === 'replace'), String(actions));
    await page.select('#f-action', '');
    await shot(page, 'audit');
    await page.close();
  });

  test('accessibility: no serious or critical axe-core violation; every control reachable by keyboard and labelled', async (t) => {
    if (skip) return t.skip(skip);
    const signin = await newPage();
    await signin.goto(`${fixture.url}/ui/signin`, { waitUntil: 'networkidle0' });
    assert.deepEqual(await axe(signin), [], 'sign-in');
    await expectKeyboardReachable(signin);
    const views = [
      ['admin', '/ui/', 'tr[data-tenant]'],
      ['admin', '/ui/tenants/acme', '#tenant-weight'],
      ['operator', '/ui/tenants/acme/services/web', '#svc-replicas-max'],
      ['viewer', '/ui/tenants/acme/services/web', '[data-test=read-only]'],
      ['admin', '/ui/audit', '[data-test=verification]'],
    ];
    for (const [role, path, ready] of views) {
      const page = await signIn(await newPage(), role);
      await page.goto(fixture.url + path, { waitUntil: 'networkidle0' });
      await page.waitForSelector(ready);
      assert.deepEqual(await axe(page), [], `${role} ${path}`);
      await expectKeyboardReachable(page);
      await page.close();
    }
    assert.deepEqual(cspViolations, [], 'the Content-Security-Policy refused something');
    assert.deepEqual(pageErrors, [], 'uncaught errors in the page');
  });
});

if (skip) console.log(`console_browser_test SKIPPED: ${skip}`);
