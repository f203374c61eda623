# Rebuilds BENCHMARKS.md from its hand-written head (everything before the first per-area section) and the
# per-area records in bench/results/*.md, one section each, headings shifted one level down.
#   python3 bench/assemble-benchmarks.py
import re
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = root / 'BENCHMARKS.md'
sections = [
    ('The runner (issue 2)', 'runner.md'),
    ('Data stages (issue 3)', 'data-stages.md'),
    ('Training backend (issue 4)', 'backend.md'),
    ('Model zoo (issue 5)', 'models.md'),
    ('The study (issue 6)', 'study.md'),
    ('Report rendering (issue 6)', 'report.md'),
    ('Watch mode (issue 7)', 'watch.md'),
    ('Cross-source robustness (issue 8)', 'robustness.md'),
    ('Labs: models in labs they never saw (issue 15)', 'labs.md'),
    ('Scale-out: Slurm and the remote cache (issue 19)', 'scale-out.md'),
]
text = target.read_text()
head = text[: text.index(f'## {sections[0][0]}')]
parts = [head.rstrip() + '\n']
for title, name in sections:
    lines = (root / 'bench' / 'results' / name).read_text().split('\n')
    if lines and lines[0].startswith('# '):
        lines = lines[1:]
    body = '\n'.join('#' + line if re.match(r'^#{2,5} ', line) else line for line in lines)
    parts.append(f'\n## {title}\n\n_From `bench/results/{name}`._\n{body.rstrip()}\n')
target.write_text(''.join(parts))
