import type { Address } from '@socketserver/core';

/** A resolved setting value as JSON: addresses and plugins as written, functions named. */
export function jsonValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(jsonValue);
  if (typeof value === 'function') return `[function ${value.name || 'anonymous'}]`;
  if (value !== null && typeof value === 'object' && 'kind' in value && 'text' in value) return (value as Address).text;
  return value;
}

/** The same, on one line for a table. */
export function textValue(value: unknown): string {
  const json = jsonValue(value);
  if (json === undefined) return '-';
  if (Array.isArray(json)) return json.length === 0 ? '-' : json.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(', ');
  return typeof json === 'string' ? json : JSON.stringify(json);
}

