import test from 'ava';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { REPO } from '../helpers/ss.js';

/**
 * README.md and docs/ are the product's contract: every relative link in them must reach a
 * file, and every #anchor a heading of that file, as GitHub renders it.
 */
const README_MAX_LINES = 250;

/** Every file under `dir` whose name ends with `ext`. */
function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? filesUnder(path, ext) : e.name.endsWith(ext) ? [path] : [];
  });
}

/** The text outside fenced code blocks and inline code, where links and headings count. */
function prose(text: string): string[] {
  let fence: string | undefined;
  return text.split('\n').map((line) => {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      return '';
    }
    return fence === undefined ? line.replace(/(`+)[^`]*?\1/g, '') : '';
  });
}

/** GitHub's heading ids: lowercase, punctuation dropped but - and _, spaces to -. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a file offers, repeated headings numbered -1, -2… as GitHub does. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const lines = text.split('\n');
  const plain = prose(text);
  lines.forEach((line, i) => {
    if (plain[i] === '' && line !== '') return; // inside a code block
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) return;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  });
  return out;
}

/** Inline links and images `[text](target)`, and reference definitions `[label]: target`. */
function links(text: string): string[] {
  const lines = prose(text);
  const found: string[] = [];
  for (const line of lines) {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push(m[1]!);
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/.exec(line);
    if (def) found.push(def[1]!);
  }
  return found;
}

/** What is wrong with each relative link in `file`, as `file: target (why)`. */
function brokenLinks(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const broken: string[] = [];
  for (const target of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:…: not ours to check
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const path = decodeURIComponent(pathPart);
    const dest = path === '' ? file : resolve(dirname(file), path);
    const where = `${relative(REPO, file)}: ${target}`;
    if (!existsSync(dest)) {
      broken.push(`${where} (no such file)`);
      continue;
    }
    if (anchor === undefined || anchor === '') continue;
    if (statSync(dest).isDirectory() || !dest.endsWith('.md')) {
      broken.push(`${where} (an anchor into a file that is not markdown)`);
      continue;
    }
    if (!anchors(readFileSync(dest, 'utf8')).has(decodeURIComponent(anchor))) broken.push(`${where} (no such heading)`);
  }
  return broken;
}

const DOCS = [join(REPO, 'README.md'), ...filesUnder(join(REPO, 'docs'), '.md')];

test('every relative link and #anchor in README.md and docs/ resolves', (t) => {
  t.true(DOCS.length > 10, `found the pages: ${DOCS.map((f) => relative(REPO, f)).join(', ')}`);
  t.deepEqual(DOCS.flatMap(brokenLinks), []);
});

test('every "docs/design.md §N" a source comment cites is a section of docs/design.md', (t) => {
  const sections = new Set([...readFileSync(join(REPO, 'docs', 'design.md'), 'utf8').matchAll(/^## (\d+)\. /gm)].map((m) => m[1]!));
  const packages = ['core', 'cli', 'create-plugin', ...readdirSync(join(REPO, 'plugins')).map((p) => join('plugins', p))];
  const cited: string[] = [];
  const missing: string[] = [];
  for (const file of packages.flatMap((p) => existsSync(join(REPO, p, 'src')) ? filesUnder(join(REPO, p, 'src'), '.ts') : [])) {
    for (const m of readFileSync(file, 'utf8').matchAll(/docs\/design\.md §(\d+)(?: and §(\d+))?/g)) {
      for (const n of [m[1], m[2]]) {
        if (n === undefined) continue;
        cited.push(n);
        if (!sections.has(n)) missing.push(`${relative(REPO, file)}: §${n}`);
      }
    }
  }
  t.true(cited.length > 0, 'found the citations');
  t.deepEqual(missing, []);
});

test('README.md stays an overview: at most 250 lines', (t) => {
  const lines = readFileSync(join(REPO, 'README.md'), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  t.true(lines.length <= README_MAX_LINES, `README.md has ${lines.length} lines; move detail into docs/`);
});

test('heading slugs follow GitHub: punctuation dropped, spaces to -, repeats numbered', (t) => {
  t.is(slug('Readiness for systemd (`Type=notify`)'), 'readiness-for-systemd-typenotify');
  t.is(slug('`ss info`'), 'ss-info');
  t.is(slug('8. Process model'), '8-process-model');
  t.is(slug('kv: a small Redis'), 'kv-a-small-redis');
  t.is(slug('Logs, `ss top` & metrics'), 'logs-ss-top--metrics');
  t.deepEqual([...anchors('# A\n## B\n```sh\n# not a heading\n```\n## B\n### b\n')], ['a', 'b', 'b-1', 'b-2']);
});
