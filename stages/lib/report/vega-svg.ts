// Renders a Vega-Lite spec to an SVG string in Node: compile to Vega, run a headless View with the
// 'none' renderer (no canvas needed; text width is estimated), and serialise to SVG.
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** Fonts the page also uses, so estimated label widths and the browser's rendering agree closely. */
export const CHART_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

const baseConfig = {
  font: CHART_FONT,
  background: 'white',
  view: { stroke: '#d9dde3' },
  axis: { labelColor: '#334155', titleColor: '#1e293b', gridColor: '#eef1f5', domainColor: '#94a3b8', tickColor: '#94a3b8', labelFontSize: 11, titleFontSize: 12 },
  legend: { labelColor: '#334155', titleColor: '#1e293b', labelFontSize: 11, titleFontSize: 12 },
  title: { color: '#0f172a', fontSize: 13, fontWeight: 600, anchor: 'start' as const },
  header: { labelColor: '#1e293b', labelFontSize: 11, titleFontSize: 12 },
};

export async function renderVegaLite(spec: TopLevelSpec): Promise<string> {
  const withConfig = { ...spec, config: { ...baseConfig, ...(spec.config ?? {}) } } as TopLevelSpec;
  const compiled = vegaLite.compile(withConfig).spec;
  const remote = (compiled.data ?? []).find((d) => 'url' in d && d.url);
  if (remote && 'url' in remote) throw new Error(`chart data "${String(remote.url)}" is a URL; report charts must carry their data inline`);
  // A loader that refuses everything: a spec must carry its data inline, nothing is fetched.
  const loader = vega.loader();
  loader.load = async (uri: string) => {
    throw new Error(`chart tried to load "${uri}"; report charts must carry their data inline`);
  };
  // Vega logs dataflow errors (a failed load, a bad expression) instead of throwing; collect them so a
  // broken chart fails the report instead of rendering empty.
  const errors: string[] = [];
  let level = vega.Warn;
  const logger = {
    level(l?: number) {
      if (l === undefined) return level;
      level = l;
      return logger;
    },
    error(...args: unknown[]) {
      errors.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(' '));
      return logger;
    },
    warn(...args: unknown[]) {
      // A failed load is only a warning to Vega; for the report it is an error.
      const text = args.map((a) => (a instanceof Error ? a.message : String(a))).join(' ');
      if (/^Loading failed/.test(text)) errors.push(text);
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', loader, logger: logger as unknown as vega.LoggerInterface });
  try {
    const svg = await view.toSVG();
    if (errors.length > 0) throw new Error(errors.join('; '));
    return svg.replace(/^<svg /, '<svg role="img" ');
  } finally {
    view.finalize();
  }
}
