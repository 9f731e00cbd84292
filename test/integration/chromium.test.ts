import test from 'ava';
import { execFileSync } from 'node:child_process';
import { CHROMIUM, Chromium, groupAlive } from '../helpers/chromium.js';
import { certsForFile, read } from '../helpers/certs.js';
import { freePort } from '../helpers/free-port.js';
import { servePages } from '../helpers/pages.js';

// The browser harness itself (test/helpers/chromium.ts), on pages from the test's own server:
// what the browser tests rely on is that a page's script ran and that its result is read back.

const certs = certsForFile(test);
const NOTE = CHROMIUM ? '' : ' (chromium not installed: FAILS)';

/** A page whose text is only what its script writes, a moment after loading. */
const PAGE = `<!doctype html>
<title>harness</title>
<p id="out">static text</p>
<script>
  setTimeout(() => { document.getElementById('out').textContent = 'set by script: ' + (6 * 7); }, 200);
  window.loadedFrom = location.origin;
</script>
`;

/** The processes whose command line names this profile folder (pgrep's exit 1 is "none"). */
function processesOf(profile: string): string {
  try {
    return execFileSync('pgrep', ['-a', '-f', profile], { encoding: 'utf8' });
  } catch (err) {
    if ((err as { status?: number }).status === 1) return '';
    throw err;
  }
}

test.serial(`chromium loads a page from a loopback server, its script runs, the harness reads what it wrote; closing leaves no process${NOTE}`, async (t) => {
  const base = await servePages(t, { '/': PAGE });
  const browser = await Chromium.launch(t);
  const page = await browser.open(`${base}/`);
  t.is(await page.evaluate('window.loadedFrom'), base);
  t.is(await page.waitForText('#out', /^set by script: /), 'set by script: 42');
  t.is(await page.text('#out'), 'set by script: 42');
  t.is(await page.text('#missing'), null);

  // Bounded waits fail, naming what was awaited and what the page held.
  const slow = await t.throwsAsync(page.waitForText('#out', 'never written', 500));
  t.regex(slow.message, /timed out after 500 ms waiting for #out to hold never written; it holds "set by script: 42"/);
  // A script error in the page is the test's error.
  const thrown = await t.throwsAsync(page.evaluate('nope.nope'));
  t.regex(thrown.message, /ReferenceError: nope is not defined/);
  // So is a page that cannot be loaded.
  const notFound = await t.throwsAsync(page.goto(`http://127.0.0.1:${await freePort()}/`));
  t.regex(notFound.message, /ERR_CONNECTION_REFUSED/);

  t.not(processesOf(browser.profile), '', 'chromium runs (its processes name its profile)');
  await browser.close();
  t.false(groupAlive(browser.pid), 'its process group is empty');
  t.is(processesOf(browser.profile), '', 'no process of it is left');
});

test.serial(`https with the tests' self-signed certificates: refused by default, loaded with ignoreCertificateErrors${NOTE}`, async (t) => {
  const base = await servePages(t, { '/': PAGE }, { key: read(certs().serverKey), cert: read(certs().serverCert) });
  const strict = await Chromium.launch(t);
  const refused = await t.throwsAsync((await strict.newPage()).goto(`${base}/`));
  t.regex(refused.message, /ERR_CERT_AUTHORITY_INVALID/);
  await strict.close();

  const lenient = await Chromium.launch(t, { ignoreCertificateErrors: true });
  const page = await lenient.open(`${base}/`);
  t.is(await page.waitForText('#out', 'set by script'), 'set by script: 42');
  t.is(await page.evaluate('location.protocol'), 'https:');
});
