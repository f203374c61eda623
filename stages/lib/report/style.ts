// The page's stylesheet, inlined into index.html (no external fonts or files).
export const REPORT_CSS = `
:root { --ink:#0f172a; --muted:#475569; --line:#e2e8f0; --soft:#f8fafc; --accent:#1d4ed8; --good:#15803d; --bad:#b91c1c; }
* { box-sizing: border-box; }
html { background: #f1f5f9; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); }
header.top { background: linear-gradient(120deg, #0f172a, #1e3a8a); color: white; padding: 28px 0 22px; }
header.top h1 { margin: 0 0 6px; font-size: 26px; font-weight: 650; letter-spacing: -0.01em; }
header.top p { margin: 0; color: #cbd5e1; max-width: 900px; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
nav.toc { background: white; border-bottom: 1px solid var(--line); position: sticky; top: 0; z-index: 5; }
nav.toc .wrap { display: flex; gap: 18px; overflow-x: auto; padding-top: 10px; padding-bottom: 10px; font-size: 13.5px; white-space: nowrap; }
nav.toc a { color: var(--muted); text-decoration: none; }
nav.toc a:hover { color: var(--accent); }
main section { background: white; border: 1px solid var(--line); border-radius: 10px; margin: 22px 0; padding: 22px 26px; }
h2 { margin: 0 0 4px; font-size: 20px; letter-spacing: -0.01em; }
h3 { font-size: 16px; margin: 22px 0 8px; }
h4 { font-size: 14.5px; margin: 16px 0 6px; }
p.lead { color: var(--muted); margin: 0 0 16px; max-width: 900px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(200px, 1fr)); gap: 12px; margin: 18px 0 4px; }
.card { background: white; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .k { font-size: 12px; text-transform: uppercase; letter-spacing: .06em; color: var(--muted); }
.card .v { font-size: 22px; font-weight: 650; margin-top: 2px; }
.card .s { font-size: 12.5px; color: var(--muted); }
table.data { border-collapse: collapse; width: 100%; font-size: 13.5px; margin: 8px 0 14px; font-variant-numeric: tabular-nums; }
table.data th, table.data td { border-bottom: 1px solid var(--line); padding: 6px 9px; text-align: left; vertical-align: top; }
table.data thead th { background: var(--soft); font-weight: 600; color: #1e293b; position: sticky; top: 41px; }
table.data td.num, table.data th.num { text-align: right; white-space: nowrap; }
table.data tr.skipped td { color: #94a3b8; }
table.data tr.best td { background: #f0fdf4; }
.ci { color: var(--muted); font-size: 12px; }
.drop { color: var(--bad); font-size: 12px; }
.na { color: #94a3b8; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; background: #e2e8f0; color: #1e293b; }
.pill.transfer { background: #dbeafe; color: #1e40af; } .pill.scratch { background: #ffedd5; color: #9a3412; } .pill.finetune { background: #ede9fe; color: #5b21b6; }
figure.chart { margin: 16px 0; overflow-x: auto; }
figure.chart svg { max-width: none; height: auto; }
figure.chart figcaption { font-size: 12.5px; color: var(--muted); margin-top: 4px; max-width: 900px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 8px 16px; }
.grid figure.chart { margin: 4px 0; }
.sheets { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 14px; }
.sheets.wide { grid-template-columns: 1fr; }
.sheets figure { margin: 0; } .sheets img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; display: block; }
.sheets figcaption { font-size: 13px; color: var(--muted); }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(124px, 1fr)); gap: 10px; margin-bottom: 12px; }
.gallery figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 6px; background: white; font-size: 11.5px; }
.gallery img, .gallery .noimg { width: 112px; height: 112px; object-fit: contain; display: block; margin: 0 auto 4px; background: white; }
.gallery .noimg { display: flex; align-items: center; justify-content: center; color: #94a3b8; border: 1px dashed var(--line); }
.gallery .t { color: var(--good); } .gallery .p { color: var(--bad); } .gallery .src { color: var(--muted); }
details { margin: 6px 0; } summary { cursor: pointer; font-weight: 600; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; font-size: 12.5px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.92em; }
.note { border-left: 3px solid #f59e0b; background: #fffbeb; padding: 8px 12px; margin: 10px 0; font-size: 13.5px; }
.cite { font-size: 13px; color: var(--muted); }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; font-size: 13.5px; margin: 8px 0; }
dl.kv dt { color: var(--muted); } dl.kv dd { margin: 0; font-variant-numeric: tabular-nums; }
dl.kv dl.kv { margin: 0; }
footer { color: var(--muted); font-size: 12.5px; padding: 10px 0 40px; }
@media print { nav.toc { display: none; } main section { break-inside: avoid-page; border: none; } }
`;
