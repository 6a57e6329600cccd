// The backprop explorer in a real browser: runs explorer_page (the C++ side) to write the page of
// a known network and the engine's numbers, opens the page in headless chromium, goes through
// every step with the keyboard, and checks that the numbers the page shows are the engine's
// (to 1e-6 relative) and that the highlighted graph node is the step's op.
//
//   node explorer_test.js EXPLORER_PAGE OUT_DIR [--corrupt]   (--corrupt: see below)
//   CHROMIUM: the browser (default /usr/bin/chromium)
//   XG_EXPLORER_SCREENSHOT: where to save the screenshot of one backward step (the MLP's sigmoid)
//                           (default OUT_DIR/explorer_step.png; docs/img/explorer_step.png is one)
'use strict';
const {execFileSync} = require('child_process');
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [exe, outDir, ...rest] = process.argv.slice(2);
if (!exe || !outDir) {
  console.error('usage: node explorer_test.js EXPLORER_PAGE OUT_DIR [--corrupt]');
  process.exit(2);
}
const shot = process.env.XG_EXPLORER_SCREENSHOT || path.join(outDir, 'explorer_step.png');
// --corrupt: explorer_page put one wrong number into engine.json; the test passes only if the
// comparison reports that number and nothing else.
const corrupt = rest.includes('--corrupt');
// The networks of explorer_page: each page is stepped through whole (the screenshot: mlp's);
// mlp-nodot is mlp's page written without graphviz on the PATH (the page's own layout).
const nets = corrupt ? ['mlp'] : ['mlp', 'cnn', 'lstm', 'mlp-nodot'];

let failures = 0, checked = 0;
const messages = [];
function fail(msg) {
  ++failures;
  messages.push(msg);
  if (failures <= 20) console.error('FAIL: ' + msg);
}
function close(shown, want, what) {
  ++checked;
  const ok = shown === want || Math.abs(shown - want) <= 1e-6 * Math.abs(want);
  if (!ok) fail(`${what}: the page shows ${shown}, the engine computed ${want}`);
}
function stats(v) {
  let lo = Infinity, hi = -Infinity, sum = 0, sq = 0;
  for (const x of v) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
    sum += x;
    sq += x * x;
  }
  return {min: lo, max: hi, mean: sum / v.length, norm: Math.sqrt(sq)};
}

// Everything the page shows at the current step, read in one call: where it is, the highlighted
// graph node, and each tensor on the panel by role ("upstream", "grad:1", "leaf:W1", "final:W1")
// as its cells or its summary (or, for an unknown value, its text).
async function snapshot(page) {
  return page.evaluate(() => {
    const p = document.getElementById('xg-panel');
    const cur = [...document.querySelectorAll('#xg-graph g.node.xg-current')].map(g => g.querySelector('title').textContent);
    const tensors = {};
    p.querySelectorAll('[data-role]').forEach(el => {
      const leaf = el.closest('[data-leaf]');
      const key = el.dataset.role + (el.dataset.k !== undefined ? ':' + el.dataset.k : '') +
                  (leaf && (el.dataset.role === 'leaf' || el.dataset.role === 'final') ? ':' + leaf.dataset.leaf : '');
      if (el.classList.contains('xg-tensor')) {
        tensors[key] = {cells: [...el.querySelectorAll('td')].map(td => Number(td.textContent))};
      } else if (el.classList.contains('xg-summary')) {
        const r = {};
        el.querySelectorAll('td[data-stat]').forEach(td => (r[td.dataset.stat] = Number(td.textContent)));
        tensors[key] = {summary: r};
      } else {
        tensors[key] = {other: el.textContent};
      }
    });
    return {phase: p.dataset.phase, index: Number(p.dataset.index), node: p.dataset.node, highlighted: cur, tensors};
  });
}
const shown = (snap, key) => (key in snap.tensors ? snap.tensors[key] : null);

function compare(got, want, what) {
  if (want === null) {
    if (got !== null && !got.other) fail(`${what}: the page shows a tensor where the engine sent none`);
    return;
  }
  if (got === null) return fail(`${what}: not on the page`);
  if (got.cells) {
    if (got.cells.length !== want.values.length)
      return fail(`${what}: ${got.cells.length} cells shown, ${want.values.length} values`);
    got.cells.forEach((c, i) => close(c, want.values[i], `${what}[${i}]`));
  } else if (got.summary) {
    const s = stats(want.values);
    for (const k of ['min', 'max', 'mean', 'norm']) close(got.summary[k], s[k], `${what} ${k}`);
  } else {
    fail(`${what}: shown as "${got.other}"`);
  }
}

const state = snapshot;

// The module outline of the LSTM's page (an nn::Sequential of an LSTM "0" over 4 time steps and
// a Linear "1"): the groups and their nesting, closed but for the current step's, a click on a
// group's summary expands and collapses it, a click on a step goes there.
async function checkOutline(page, net) {
  const groups = await page.evaluate(() => [...document.querySelectorAll('#xg-outline details.xg-group')].map(d => ({
    scope: d.dataset.scope, parent: d.parentElement.closest('details.xg-group')?.dataset.scope || '', open: d.open})));
  const want = ['0', '0.t0', '0.t1', '0.t2', '0.t3', '1'];
  const scopes = groups.map(g => g.scope);
  if (JSON.stringify(scopes) !== JSON.stringify(want)) return fail(`${net}: outline groups ${JSON.stringify(scopes)}, not ${JSON.stringify(want)}`);
  ++checked;
  for (const g of groups) {
    const parent = g.scope.includes('.') ? g.scope.slice(0, g.scope.lastIndexOf('.')) : '';
    if (g.parent !== parent) fail(`${net}: outline group ${g.scope} is inside "${g.parent}", not "${parent}"`);
  }
  // at forward step 1 (inside 0.t0): 0 and 0.t0 open, the others closed
  const openAtHome = groups.filter(g => g.open).map(g => g.scope).join(',');
  if (openAtHome !== '0,0.t0') fail(`${net}: at Home the open groups are "${openAtHome}", not "0,0.t0"`);
  const panelScope = await page.evaluate(() => document.getElementById('xg-panel').dataset.scope);
  if (panelScope !== '0.t0') fail(`${net}: step 1's scope shown as "${panelScope}", not "0.t0"`);
  const isOpen = scope => page.evaluate(s => document.querySelector(`#xg-outline details[data-scope="${s}"]`).open, scope);
  await page.click('#xg-outline details[data-scope="1"] > summary');
  if (!(await isOpen('1'))) fail(`${net}: a click on group 1 did not expand it`);
  await page.click('#xg-outline details[data-scope="1"] > summary');
  if (await isOpen('1')) fail(`${net}: a second click on group 1 did not collapse it`);
  await page.click('#xg-outline details[data-scope="1"] > summary');
  const link = await page.evaluate(() => {
    const a = document.querySelector('#xg-outline details[data-scope="1"] > a');
    return a ? Number(a.dataset.step) : 0;
  });
  if (!link) return fail(`${net}: group 1 lists no step`);
  await page.click(`#xg-outline a[data-step="${link}"]`);
  const s = await snapshot(page);
  if (s.phase !== 'forward' || s.index !== link - 1 || s.highlighted[0] !== `op${link}`)
    fail(`${net}: a click on step ${link} in the outline went to ${s.phase} ${s.index} (${s.highlighted})`);
  const scope = await page.evaluate(() => document.getElementById('xg-panel').dataset.scope);
  if (scope !== '1') fail(`${net}: step ${link}'s scope shown as "${scope}", not "1"`);
  checked += 6;
}

// One network: write its page, open it, go through it with the keyboard.
async function runNet(browser, net) {
  const dir = path.join(outDir, net);
  fs.mkdirSync(dir, {recursive: true});
  const nodot = net.endsWith('-nodot');
  execFileSync(exe, [dir, nodot ? net.replace('-nodot', '') : net, ...rest],
               {stdio: 'inherit', env: nodot ? {...process.env, PATH: '/nonexistent'} : process.env});
  const engine = JSON.parse(fs.readFileSync(path.join(dir, 'engine.json'), 'utf8'));
  const pageFile = path.join(dir, 'explorer.html');
  const before = failures;
  {
    const page = await browser.newPage();
    await page.setViewport({width: 1400, height: 900});
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    page.on('requestfailed', r => errors.push('request ' + r.url()));
    page.on('request', r => {
      if (!r.url().startsWith('file:')) errors.push('network request ' + r.url());
    });
    await page.goto('file://' + path.resolve(pageFile), {waitUntil: 'load'});

    await page.keyboard.press('Home');
    if (net === 'lstm') await checkOutline(page, net);
    await page.keyboard.press('Home');
    let s = await state(page);
    if (s.phase !== 'forward' || s.index !== 0) fail(`${net}: Home: at ${s.phase} ${s.index}, not forward 0`);
    // Forward: every recorded op, its node highlighted in turn.
    for (let i = 0; i < engine.forward_steps; ++i) {
      s = await state(page);
      if (s.phase !== 'forward' || s.index !== i) fail(`${net}: forward step ${i}: the page is at ${s.phase} ${s.index}`);
      if (s.highlighted.length !== 1 || s.highlighted[0] !== `op${i + 1}`)
        fail(`${net}: forward step ${i}: highlighted ${JSON.stringify(s.highlighted)}, not op${i + 1}`);
      await page.keyboard.press('ArrowRight');
    }
    // Backward: the engine's steps in the order it ran them.
    let previous = null;
    for (let i = 0; i < engine.backward.length; ++i) {
      const want = engine.backward[i];
      s = await state(page);
      if (s.phase !== 'backward' || s.index !== i) fail(`${net}: backward step ${i}: the page is at ${s.phase} ${s.index}`);
      if (s.highlighted.length !== 1 || s.highlighted[0] !== `op${want.step}`)
        fail(`${net}: backward step ${i}: highlighted ${JSON.stringify(s.highlighted)}, not op${want.step}`);
      if (previous !== null && s.highlighted[0] === previous) fail(`${net}: backward step ${i}: the highlight did not move`);
      previous = s.highlighted[0];
      compare(shown(s, 'upstream'), want.upstream, `${net}: backward step ${i} (${want.op}) upstream`);
      for (let k = 0; k < want.grads.length; ++k)
        compare(shown(s, 'grad:' + k), want.grads[k], `${net}: backward step ${i} (${want.op}) grad to input ${k}`);
      if (!corrupt && net === 'mlp' && !shot_taken && want.op === 'sigmoid') {
        await page.screenshot({path: shot});
        shot_taken = true;
      }
      if (i === engine.backward.length - 1)  // the running totals, complete: each leaf's .grad
        for (const [label, want] of Object.entries(engine.leaf_grads))
          compare(shown(s, 'leaf:' + label), want, `${net}: ${label} accumulated at the last step`);
      await page.keyboard.press('ArrowRight');
    }
    // After the pass: the leaves' .grad, against a plain loss.backward().
    s = await state(page);
    if (s.phase !== 'done') fail(`${net}: after the last backward step: at ${s.phase}`);
    for (const [label, want] of Object.entries(engine.leaf_grads)) {
      compare(shown(s, 'final:' + label), want, `${net}: ${label}.grad`);
    }
    // Left, End and Home move as they say.
    await page.keyboard.press('ArrowLeft');
    s = await state(page);
    if (s.phase !== 'backward' || s.index !== engine.backward.length - 1) fail(`${net}: Left from the end: at ${s.phase} ${s.index}`);
    await page.keyboard.press('Home');
    await page.keyboard.press('End');
    s = await state(page);
    if (s.phase !== 'done') fail(`${net}: End: at ${s.phase}`);
    if (errors.length) fail('the page: ' + errors.join('; '));
    await page.close();
  }
  console.log(`explorer ${net}: ${engine.forward_steps} forward and ${engine.backward.length} backward steps, ` +
              `${failures - before} failure(s)`);
  return engine;
}

let shot_taken = false;
(async () => {
  const t0 = Date.now();
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  let engine;
  try {
    for (const net of nets) engine = await runNet(browser, net);
  } finally {
    await browser.close();
  }
  console.log(`explorer: ${checked} numbers compared, ${failures} failure(s)${shot_taken ? ', screenshot ' + shot : ''}, ` +
              `${(Date.now() - t0) / 1000} s`);
  if (corrupt) {
    const last = engine.backward.length - 1;
    const caught = failures === 1 && messages[0].startsWith(`mlp: backward step ${last} `);
    console.log(caught ? 'corrupt: the one wrong number was caught, and nothing else'
                       : `corrupt: expected exactly the failure of backward step ${last}, got ${failures}`);
    process.exit(caught ? 0 : 1);
  }
  process.exit(failures ? 1 : 0);
})().catch(e => {
  console.error(e);
  process.exit(1);
});
