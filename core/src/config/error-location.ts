import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { errorMessage, type ErrorLocation } from '../errors.js';
import { jitiPosition, syntaxErrorPosition } from './import-module.js';

/** A place in a file: line and column from 1; `fn` the function a stack frame was in. */
export interface Place {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly fn?: string | undefined;
}

/**
 * ss's own folders: its packages' when installed (node_modules/@socketserver), or in a checkout
 * the packages' beside core. Their frames are never the user's.
 */
const HOME = dirname(fileURLToPath(new URL('../../', import.meta.url)));
const OURS = basename(HOME) === '@socketserver' ? [HOME + sep] : ['core', 'cli', 'plugins'].map((d) => join(HOME, d) + sep);
/** Packages (ss's dependencies, the user's): their frames are not the user's own code either. */
const PACKAGE = `${sep}node_modules${sep}`;

const FRAME = /^\s*at (?:(.+?) \()?(.+):(\d+):(\d+)\)?$/;

/** A stack frame's place; `plain` when named by path rather than URL: code jiti may have run (it keeps lines, not columns). */
interface Frame extends Place {
  readonly plain?: boolean;
}

/** A stack frame's place; undefined for Node's own, native and eval frames. */
function parseFrame(line: string): Frame | undefined {
  const m = FRAME.exec(line);
  if (!m || m[1]?.includes('eval at')) return undefined;
  const where = m[2]!;
  const url = where.startsWith('file://');
  if (!url && !isAbsolute(where)) return undefined; // node:internal, <anonymous>, eval
  const file = url ? fileURLToPath(where) : where;
  return { file, line: Number(m[3]), column: Number(m[4]), fn: m[1], plain: !url };
}

/**
 * The frames of a stack that are the user's own code: not Node's, not ss's, not a package's
 * (a library the user's code called is named by the user's line that called it).
 */
export function userFrames(stack: string): Frame[] {
  return stack.split('\n').map(parseFrame)
    .filter((f): f is Frame => f !== undefined && !f.file.includes(PACKAGE) && !OURS.some((d) => f.file.startsWith(d)));
}

/**
 * Where a module that does not load went wrong, when its stack does not say: Node's caret
 * (a CommonJS syntax error, an import of a name not exported), or the `FILE:LINE:COLUMN` line of
 * jiti's message (its column counts from 0).
 */
function loadPlace(err: { stack?: unknown; message?: unknown }): Place | undefined {
  const stack = typeof err.stack === 'string' ? err.stack : '';
  const arrow = /^(file:\/\/\S+|\/\S*):(\d+)\n(.*)\n([ \t]*)\^/.exec(stack);
  if (arrow) return { file: arrow[1]!.startsWith('file:') ? fileURLToPath(arrow[1]!) : arrow[1]!, line: Number(arrow[2]), column: arrow[4]!.length + 1 };
  const message = typeof err.message === 'string' ? err.message : '';
  const jiti = /^\s*(\/.*|file:\/\/.*):(\d+):(\d+)\s*$/m.exec(message);
  if (jiti) return { file: jiti[1]!.startsWith('file:') ? fileURLToPath(jiti[1]!) : jiti[1]!, line: Number(jiti[2]), column: Number(jiti[3]) + 1 };
  return undefined;
}

/** A place in a file built with a source map (a plugin compiled to dist/), in its source; else the place as it is. */
function mapped(place: Frame): Place {
  let text: string;
  try {
    const jiti = place.plain ? jitiPosition(place.file, place.line, place.column) : undefined;
    if (jiti) return { ...place, ...jiti };
    text = readFileSync(place.file, 'utf8');
  } catch {
    return place; // gone, unreadable, or no longer compiles: the place as it was run
  }
  const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(text.slice(-4096))?.[1];
  if (url === undefined) return place;
  try {
    const data = /^data:application\/json;(?:charset=utf-8;)?base64,(.*)$/.exec(url);
    const json = data ? Buffer.from(data[1]!, 'base64').toString('utf8') : readFileSync(resolve(dirname(place.file), decodeURIComponent(url)), 'utf8');
    const map = JSON.parse(json) as { sourceRoot?: unknown };
    const entry = new SourceMap(map as ConstructorParameters<typeof SourceMap>[0]).findEntry(place.line - 1, place.column - 1) as
      { generatedLine?: number; originalSource?: string; originalLine?: number; originalColumn?: number };
    // The nearest mapping before the place: from another line, it would point at the wrong code.
    if (entry.generatedLine !== place.line - 1 || entry.originalSource === undefined || entry.originalLine === undefined) return place;
    const root = typeof map.sourceRoot === 'string' ? map.sourceRoot : '';
    const source = entry.originalSource.startsWith('file:') ? fileURLToPath(entry.originalSource) : resolve(dirname(place.file), root, entry.originalSource);
    return { ...place, file: source, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
  } catch {
    return place; // a map that is missing or broken: the built file's place
  }
}

/** An error's first line, as the one line that says why (jiti ends its own with spaces). */
export function firstLine(err: unknown): string {
  return errorMessage(err).split('\n')[0]!.trimEnd();
}

/** A file's name as the user knows it: relative to the working directory when inside it. */
export function shownPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/** Longer lines are minified code: no frame is shown for them. */
const LONGEST = 200;

/**
 * The lines around `line` (one either side), numbered, the line marked with `>` and a caret
 * under `column`; empty when the line is not in `source` or is too long to show.
 */
export function codeFrame(source: string, line: number, column: number): string {
  const lines = source.split(/\r?\n/);
  const text = lines[line - 1];
  if (text === undefined || text.length > LONGEST) return '';
  const last = Math.min(lines.length, line + 1);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = Math.max(1, line - 1); n <= last; n++) {
    const shown = lines[n - 1]!.slice(0, LONGEST);
    out.push(`${n === line ? '> ' : '  '}${String(n).padStart(width)} |${shown === '' ? '' : ` ${shown}`}`);
    if (n === line) {
      // The caret under the column, tabs kept so that it lines up however they are shown.
      const pad = text.slice(0, Math.max(0, Math.min(column - 1, text.length))).replace(/[^\t]/g, ' ');
      out.push(`  ${' '.repeat(width)} | ${pad}^`);
    }
  }
  return out.join('\n');
}

function frameLine(p: Place, cwd: string): string {
  const at = `${shownPath(p.file, cwd)}:${p.line}:${p.column}`;
  return p.fn ? `at ${p.fn} (${at})` : `at ${at}`;
}

/** At most this many of the user's frames are shown. */
const FRAMES = 5;

/**
 * Where in the user's code `err` came from, for the lines under a one-line error: the user's
 * stack frames (or where a module failed to parse), then the code at the first of them. Files
 * built with a source map are shown in their source; undefined when no frame is the user's.
 * `file`: the module that failed to load, if that is what `err` says (an ES module's syntax
 * error names no place: the file is parsed again to find it). Reads files: only for an error
 * that ends start-up or a reload.
 */
export function errorLocation(err: unknown, file?: string, cwd = process.cwd()): ErrorLocation | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  let frames: Frame[];
  try {
    const e = err as { stack?: unknown; message?: unknown; name?: unknown };
    const place = loadPlace(e);
    frames = place ? [place] : userFrames(typeof e.stack === 'string' ? e.stack : '');
    if (frames.length === 0 && file !== undefined && e.name === 'SyntaxError') {
      const at = syntaxErrorPosition(file);
      if (at) frames = [{ file, ...at }];
    }
    frames = frames.slice(0, FRAMES).map(mapped);
  } catch {
    return undefined; // a stack that cannot be read: the message alone, as before
  }
  const first = frames[0];
  if (first === undefined) return undefined;
  let frame = '';
  try {
    frame = codeFrame(readFileSync(first.file, 'utf8'), first.line, first.column);
  } catch { /* gone or unreadable: the frames alone */ }
  const lines = frames.map((f) => `    ${frameLine(f, cwd)}`);
  if (frame !== '') lines.push('', ...frame.split('\n').map((l) => `    ${l}`));
  return { at: `${shownPath(first.file, cwd)}:${first.line}:${first.column}`, text: lines.join('\n') };
}
