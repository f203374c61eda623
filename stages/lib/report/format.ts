// Small formatting helpers shared by the HTML and Markdown writers.
import type { Interval } from '../metrics/evaluation-metrics.js';

export const NA = 'n/a';

export function pct(x: number | null | undefined, digits = 1): string {
  return x === null || x === undefined || !Number.isFinite(x) ? NA : `${(x * 100).toFixed(digits)} %`;
}

export function num(x: number | null | undefined, digits = 3): string {
  return x === null || x === undefined || !Number.isFinite(x) ? NA : x.toFixed(digits);
}

export function interval(ci: Interval | null | undefined, digits = 1): string {
  return ci ? `${(ci.low * 100).toFixed(digits)}–${(ci.high * 100).toFixed(digits)}` : NA;
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return NA;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${seconds.toFixed(1)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(2)} h`;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Escapes the characters that would break a Markdown table cell. */
export function escapeMdCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function titleCase(name: string): string {
  return name.charAt(0) + name.slice(1).toLowerCase();
}
