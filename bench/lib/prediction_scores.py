"""Accuracy and balanced accuracy of `pipe predict` output whose file paths carry the true class as a folder name."""
import csv


def score(paths, truth):
    """Over the rows of every predictions.csv in `paths`; `truth(path)` gives a row's class from its file column."""
    rows = [r for p in paths for r in csv.DictReader(open(p))]
    true = [truth(r['file'].replace('\\', '/')) for r in rows]
    hits = [t == r['predicted'] for t, r in zip(true, rows)]
    recall = [sum(h for t, h in zip(true, hits) if t == c) / true.count(c) for c in sorted(set(true))]
    return sum(hits) / len(rows), sum(recall) / len(recall), len(rows)


def pct(x):
    return f'{100 * x:.1f}%'
