#!/usr/bin/env python3
"""The same-accuracies check: two report metrics.json files (artifacts/stages/report/metrics.json of two
runs) compared value by value, skipping only times, keys, dates, paths and machine facts. Exit 1 if any differ.
   python3 bench/compare-metrics.py before/metrics.json after/metrics.json"""
import json, re, sys
IGN = re.compile(r'seconds|msPer|time|created|duration|key|started|runId|path|dir|host|cpu|node|platform|memory', re.I)
a, b = (json.load(open(f)) for f in sys.argv[1:3])
diffs = []; n = [0]
def walk(x, y, where):
    if isinstance(x, dict) and isinstance(y, dict):
        for k in sorted(set(x) | set(y)):
            if IGN.search(k): continue
            if k not in x or k not in y: diffs.append(f'{where}.{k}: only in {"b" if k not in x else "a"}'); continue
            walk(x[k], y[k], f'{where}.{k}')
    elif isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y): diffs.append(f'{where}: length {len(x)} vs {len(y)}'); return
        for i, (p, q) in enumerate(zip(x, y)): walk(p, q, f'{where}[{i}]')
    else:
        n[0] += 1
        if x != y and not (isinstance(x, str) and 'weights missing' in x):
            diffs.append(f'{where}: {json.dumps(x)[:120]} vs {json.dumps(y)[:120]}')
walk(a, b, '$')
print(f'{n[0]} values compared, {len(diffs)} differ')
for d in diffs[:40]: print(' ', d)
sys.exit(1 if diffs else 0)
