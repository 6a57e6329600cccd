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

// The outline of the LSTM's page (an nn::Sequential of an LSTM "0" over 4 time steps and a
// Linear "1"): the module calls and their nesting (composite ops' calls are groups too), all
// expanded at first; a click on a group's summary collapses and expands it, a click on a step
// goes there.
async function checkOutline(page, net) {
  const groups = await page.evaluate(() => [...document.querySelectorAll('#xg-outline details.xg-group')].map(d => ({
    scope: d.dataset.scope, composite: d.dataset.composite === '1',
    parent: d.parentElement.closest('details.xg-group:not([data-composite="1"])')?.dataset.scope || '', open: d.open})));
  const modules = groups.filter(g => !g.composite);
  const want = ['0', '0.t0', '0.t1', '0.t2', '0.t3', '1'];
  const scopes = modules.map(g => g.scope);
  if (JSON.stringify(scopes) !== JSON.stringify(want)) return fail(`${net}: outline groups ${JSON.stringify(scopes)}, not ${JSON.stringify(want)}`);
  ++checked;
  for (const g of modules) {
    const parent = g.scope.includes('.') ? g.scope.slice(0, g.scope.lastIndexOf('.')) : '';
    if (g.parent !== parent) fail(`${net}: outline group ${g.scope} is inside "${g.parent}", not "${parent}"`);
  }
  if (!groups.some(g => g.composite)) fail(`${net}: no composite op's call in the outline`);
  const closed = groups.filter(g => !g.open).map(g => g.scope);
  if (closed.length) fail(`${net}: at first the groups ${closed.join(',')} are collapsed`);
  const panelScope = await page.evaluate(() => document.getElementById('xg-panel').dataset.scope);
  if (!panelScope.startsWith('0.t0')) fail(`${net}: step 1's scope shown as "${panelScope}", not in "0.t0"`);
  const isOpen = scope => page.evaluate(s => document.querySelector(`#xg-outline details[data-scope="${s}"]`).open, scope);
  await page.click('#xg-outline details[data-scope="1"] > summary');
  if (await isOpen('1')) fail(`${net}: a click on group 1 did not collapse it`);
  await page.click('#xg-outline details[data-scope="1"] > summary');
  if (!(await isOpen('1'))) fail(`${net}: a second click on group 1 did not expand it`);
  const link = await page.evaluate(() => {
    const a = document.querySelector('#xg-outline details[data-scope="1"] a');
    return a ? Number(a.dataset.step) : 0;
  });
  if (!link) return fail(`${net}: group 1 lists no step`);
  await page.click(`#xg-outline a[data-step="${link}"]`);
  const s = await snapshot(page);
  if (s.phase !== 'forward' || s.index !== link - 1 || s.highlighted[0] !== `op${link}`)
    fail(`${net}: a click on step ${link} in the outline went to ${s.phase} ${s.index} (${s.highlighted})`);
  const scope = await page.evaluate(() => document.getElementById('xg-panel').dataset.scope);
  if (!scope.startsWith('1')) fail(`${net}: step ${link}'s scope shown as "${scope}", not in "1"`);
  checked += 6;
}

// Gradients summed as the page sums them: per tensor (label), in order of first gradient.
function sumByLabel(pairs) {
  const order = [], sums = {};
  for (const [label, g] of pairs) {
    if (!(label in sums)) {
      order.push(label);
      sums[label] = {shape: g.shape, values: g.values.slice()};
    } else {
      g.values.forEach((v, i) => (sums[label].values[i] += v));
    }
  }
  return order.map(l => [l, sums[l]]);
}
// A sum of float32 gradients: the page's and ours round differently.
function compareSum(got, want, what) {
  if (!got || !got.cells) return compare(got, want, what);
  if (got.cells.length !== want.values.length) return fail(`${what}: ${got.cells.length} cells shown, ${want.values.length} values`);
  const scale = Math.max(...want.values.map(Math.abs));
  got.cells.forEach((c, i) => {
    ++checked;
    if (Math.abs(c - want.values[i]) > 1e-5 * Math.abs(want.values[i]) + 1e-6 * scale)
      fail(`${what}[${i}]: the page shows ${c}, the engine's steps sum to ${want.values[i]}`);
  });
}

// Collapse the call `select` (a CSS selector of its outline group) and step over it with the
// arrow keys, forward and backward: one step for the whole call, its nodes highlighted, the
// gradients that enter it and the sums it sends out those of the engine's steps; expanded again,
// the keys step into it.
async function checkCollapse(page, net, engine, select) {
  const c = await page.evaluate(sel => Number(document.querySelector(sel).dataset.call), select);
  const g = await page.evaluate(c => ({path: D.groups[c].path, first: D.groups[c].first, last: D.groups[c].last}), c);
  const {first, last} = g;
  const n = last - first + 1;
  const tag = `${net}: collapsed ${g.path} (steps ${first}-${last})`;
  // the page's range is the run of the engine's tape steps recorded in that scope
  const inScope = st => { const p = engine.tape[st - 1].scope; return p === g.path || p.startsWith(g.path + '.') || p.startsWith(g.path + '/'); };
  for (let st = first; st <= last; ++st) if (!inScope(st)) fail(`${tag}: tape step ${st} is in "${engine.tape[st - 1].scope}"`);
  if (first > 1 && inScope(first - 1) && last < engine.tape.length && inScope(last + 1)) fail(`${tag}: not a whole run`);
  if (n < 2) return fail(`${tag}: a call of one op`);
  await page.click(`${select} > summary`);
  await page.waitForFunction(sel => !document.querySelector(sel).open, {timeout: 5000}, select);
  await new Promise(r => setTimeout(r, 50));  // (its toggle event)
  await page.keyboard.press('Home');
  for (let i = 0; i < first - 1; ++i) await page.keyboard.press('ArrowRight');
  const ops = Array.from({length: n}, (_, i) => `op${first + i}`);
  const sameOps = h => h.length === n && ops.every(o => h.includes(o));
  let s = await snapshot(page);
  let info = await page.evaluate(() => ({...document.getElementById('xg-panel').dataset}));
  if (s.phase !== 'forward' || s.index !== first - 1 || info.group !== String(c) || Number(info.count) !== n)
    fail(`${tag}: forward: at ${s.phase} ${s.index} (group "${info.group}", ${info.count} steps), not the call at ${first - 1}`);
  if (!sameOps(s.highlighted)) fail(`${tag}: forward: highlighted ${JSON.stringify(s.highlighted)}`);
  await page.keyboard.press('ArrowRight');
  s = await snapshot(page);
  if (last < engine.forward_steps) {
    if (s.phase !== 'forward' || s.index !== last || s.highlighted[0] !== `op${last + 1}`)
      fail(`${tag}: Right from the call: at ${s.phase} ${s.index} (${s.highlighted}), not forward ${last}`);
    await page.keyboard.press('ArrowLeft');
    s = await snapshot(page);
    if (s.phase !== 'forward' || s.index !== first - 1) fail(`${tag}: Left onto the call: at ${s.phase} ${s.index}`);
  }
  // Backward: on to the call (its first backward step is the engine's step for tape step `last`).
  const b = engine.backward.findIndex(x => x.step === last);
  const inCall = x => x.step >= first && x.step <= last;
  for (let guard = 0; guard < engine.forward_steps + engine.backward.length; ++guard) {
    s = await snapshot(page);
    info = await page.evaluate(() => ({...document.getElementById('xg-panel').dataset}));
    if (s.phase === 'backward' && info.group === String(c)) break;
    if (s.phase === 'done') break;
    await page.keyboard.press('ArrowRight');
  }
  if (s.phase !== 'backward' || s.index !== b || info.group !== String(c))
    return fail(`${tag}: backward: the call is not at backward ${b} (at ${s.phase} ${s.index})`);
  for (let k = b; k < b + n; ++k)
    if (!inCall(engine.backward[k])) fail(`${tag}: backward step ${k} (tape step ${engine.backward[k].step}) is not in the call`);
  if (!sameOps(s.highlighted)) fail(`${tag}: backward: highlighted ${JSON.stringify(s.highlighted)}`);
  // the gradients that enter it: those of its outputs (used after it, or the root)
  const outputs = [];
  for (let st = first; st <= last; ++st)
    if (st === engine.forward_steps || engine.backward.some(x => x.step > last && x.inputs.some(i => i.producer === st))) outputs.push(st);
  outputs.forEach((st, k) => compare(shown(s, 'upstream:' + k), engine.backward.find(x => x.step === st).upstream,
                                     `${tag}: gradient into output ${k} (step ${st})`));
  if (shown(s, 'upstream:' + outputs.length)) fail(`${tag}: more than ${outputs.length} gradients in`);
  // the gradients it sends out: per tensor outside it, summed over its steps
  const pairs = [];
  for (const x of engine.backward.slice(b, b + n))
    x.inputs.forEach((i, k) => {
      if ((i.producer < first || i.producer > last) && x.grads[k]) pairs.push([i.label, x.grads[k]]);
    });
  const sent = sumByLabel(pairs);
  sent.forEach(([label, want], k) => compareSum(shown(s, 'grad:' + k), want, `${tag}: gradient out ${k} (to ${label})`));
  if (shown(s, 'grad:' + sent.length)) fail(`${tag}: more than ${sent.length} gradients out`);
  // the leaves' running totals after the call's last step
  const leafPairs = [];
  for (const x of engine.backward.slice(0, b + n))
    x.inputs.forEach((i, k) => {
      if (!i.producer && x.grads[k] && i.label in engine.leaf_grads) leafPairs.push([i.label, x.grads[k]]);
    });
  for (const [label, want] of sumByLabel(leafPairs)) compareSum(shown(s, 'leaf:' + label), want, `${tag}: ${label} accumulated`);
  // Right skips the call, Left comes back onto it
  await page.keyboard.press('ArrowRight');
  s = await snapshot(page);
  const after = engine.backward[b + n];
  if (after ? s.phase !== 'backward' || s.index !== b + n || s.highlighted[0] !== `op${after.step}` : s.phase !== 'done')
    fail(`${tag}: Right from the call in backward: at ${s.phase} ${s.index} (${s.highlighted})`);
  await page.keyboard.press('ArrowLeft');
  s = await snapshot(page);
  if (s.phase !== 'backward' || s.index !== b) fail(`${tag}: Left onto the call in backward: at ${s.phase} ${s.index}`);
  // expanded again: the same place, now its first step, and Right steps into it (the page
  // re-shows on the details' toggle event, which comes after the click)
  await page.click(`${select} > summary`);
  await page.waitForFunction(() => document.getElementById('xg-panel').dataset.group === '', {timeout: 5000})
      .catch(() => fail(`${tag}: expanding it did not show its step`));
  s = await snapshot(page);
  if (s.phase !== 'backward' || s.index !== b || s.highlighted.length !== 1 || s.highlighted[0] !== `op${last}`)
    fail(`${tag}: expanded: at ${s.phase} ${s.index} (${s.highlighted}), not backward ${b} on op${last}`);
  await page.keyboard.press('ArrowRight');
  s = await snapshot(page);
  if (s.phase !== 'backward' || s.index !== b + 1 || s.highlighted[0] !== `op${engine.backward[b + 1].step}`)
    fail(`${tag}: expanded, Right: at ${s.phase} ${s.index} (${s.highlighted}), not inside the call`);
  checked += 12;
  await page.evaluate(() => document.activeElement && document.activeElement.blur());  // (no focus ring in the screenshot)
  console.log(`${tag}: stepped over forward and backward, ${outputs.length} gradient(s) in, ${sent.length} out`);
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
    // a module's call (lstm: the time step 0.t1) and composite ops' (cnn: cross_entropy, mlp: mean)
    if (!corrupt && net === 'cnn') await checkCollapse(page, net, engine, '#xg-outline details[data-scope="cross_entropy"]');
    if (!corrupt && net === 'lstm') await checkCollapse(page, net, engine, '#xg-outline details[data-scope="0.t1"]');
    if (!corrupt && net === 'mlp') await checkCollapse(page, net, engine, '#xg-outline details[data-composite="1"][data-scope="mean"]');
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
