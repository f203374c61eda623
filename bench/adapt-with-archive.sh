#!/usr/bin/env bash
# `pipe predict --adapt-with` on labs the model never saw, through the whole CLI on raw images. For each lab L,
# the transfer head is fitted on the other labs only (`train.trainLabs`, as bench/cross-lab-finetune.sh does), and
# L's cells, shuffled by a seeded hash, become FOLDERS folders of SIZE cells ("today's") and an archive of up to
# ARCHIVE more ("earlier days", none of today's). Each folder is classified as trained (`--adapt none`),
# self-trained on itself alone (`--adapt self-training`; auto would not adapt under 32 images), with the
# archive (`--adapt-with`, auto), and with LABELLED cells per class of the archive given their classes
# (`--labelled`, which takes them out of the archive). Prints accuracy / balanced accuracy over every folder's
# cells, per lab and the mean.
#   bench/adapt-with-archive.sh                       (FOLDERS=6 SIZE=16 ARCHIVE=256 LABELLED=5, train seed 1)
#   SETS='train.seed=2' FOLDERS=4 bench/adapt-with-archive.sh
# Run it in a workspace where `npx pipe run` has finished; it leaves the last model published (a plain
# `npx pipe run` restores the default from the store).
set -euo pipefail
arch=${ARCH:-mobilenet_v1_0.25}
instance="train[arch=$arch,mode=transfer]"
folders=${FOLDERS:-6}
size=${SIZE:-16}
archive=${ARCHIVE:-256}
labelled=${LABELLED:-5}
source "$(dirname "$0")/lib/train-without-lab.sh"
out=$(mktemp -d)
for lab in $labs; do
  t0=$(date +%s)
  train_without_lab "$lab" "$instance" "$out/$lab-run.log"
  # Folders and the archive as symlinks that keep the class folder in the path (the truth for scoring).
  python3 - "artifacts/stages/labs/images/$lab" "$out/$lab" "$folders" "$size" "$archive" "$labelled" <<'PY'
import hashlib, os, sys
root, dest, folders, size, archive, labelled = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
files.sort(key=lambda p: hashlib.sha256(f'adapt-with:{os.path.relpath(p, root)}'.encode()).hexdigest())
def place(group, paths):
    for p in paths:
        rel = os.path.relpath(p, root)
        os.makedirs(os.path.join(dest, group, os.path.dirname(rel)), exist_ok=True)
        os.symlink(os.path.abspath(p), os.path.join(dest, group, rel))
for j in range(folders):
    place(f'folder-{j}', files[j * size:(j + 1) * size])
kept = files[folders * size:folders * size + archive]
place('archive', kept)
# The first LABELLED archive cells of each class, in the archive's order (a class with fewer gives what it has).
by_class = {}
for p in kept:
    by_class.setdefault(os.path.relpath(p, root).split(os.sep)[0], []).append(p)
place('labelled', [p for cells in by_class.values() for p in cells[:labelled]])
PY
  for ((j = 0; j < folders; j++)); do
    f="$out/$lab/folder-$j"
    npx pipe predict --model "$instance" --adapt none --out "$f-none" "$f" > "$f-none.log" 2>&1
    npx pipe predict --model "$instance" --adapt self-training --out "$f-alone" "$f" > "$f-alone.log" 2>&1
    npx pipe predict --model "$instance" --adapt-with "$out/$lab/archive" --out "$f-archive" "$f" > "$f-archive.log" 2>&1
    npx pipe predict --model "$instance" --adapt-with "$out/$lab/archive" --labelled "$out/$lab/labelled" --out "$f-labelled" "$f" > "$f-labelled.log" 2>&1
  done
  echo "$lab: trained on $trained_on, $folders folders of $size predicted four ways in $(( $(date +%s) - t0 )) s" >&2
done
PYTHONPATH="$(dirname "$0")/lib" python3 - "$out" "$folders" $labs <<'PY'
import sys
from prediction_scores import pct as f, score as score_paths
out, folders, labs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# A file's path is …/<lab>/folder-<j>/<class>/<name>.
score = lambda lab, way: score_paths([f'{out}/{lab}/folder-{j}-{way}/predictions.csv' for j in range(folders)], lambda file: file.split('/folder-', 1)[1].split('/')[1])
ways = ('none', 'alone', 'archive', 'labelled')
print('| held-out lab | cells | as trained (acc / bal) | self-trained on the folder alone | with --adapt-with the archive | and --labelled cells of it |\n|---|--:|--:|--:|--:|--:|')
means = {w: [[], []] for w in ways}
for lab in labs:
    cells, figures = 0, []
    for w in ways:
        a, b, cells = score(lab, w)
        means[w][0].append(a); means[w][1].append(b)
        figures.append(f'{f(a)} / {f(b)}')
    print(f'| {lab} | {cells} | ' + ' | '.join(figures) + ' |')
print('| **mean** | | ' + ' | '.join(f'{f(sum(a) / len(a))} / {f(sum(b) / len(b))}' for a, b in means.values()) + ' |')
PY
