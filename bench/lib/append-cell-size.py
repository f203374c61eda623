"""Copies a features directory with each vector extended by the cell's size relative to its lab.

The canonical cell is scaled so that every cell fills the same share of its square (cell-representation.ts),
which removes size, one of the cues a haematologist reads first (a lymphocyte is small, a monocyte large).
Across labs absolute size is not comparable (magnifications differ), so the cue is the cell's equivalent
diameter over the median of its lab's cells: log(d / median), from segment's records (1 / scale ∝ diameter).
A held-out lab's median is over its own cells, as AdaBN's statistics are.
  python3 bench/lib/append-cell-size.py FEATURES_DIR SEGMENT_DIR OUT_DIR [COPIES] [JITTER] [MIXED] [shuffle]
COPIES repeats the value (weight in the head's first layer); JITTER (log units, uniform ±) perturbs the
augmented variants' value by a hash of their name, as a scale augmentation would. MIXED=f simulates a lab
photographed through two microscopes: half of every lab's cells (by a hash of the name) are f times larger.
ORIGINAL_JITTER=σ with CLEAN_LAB=L (environment) adds ± σ to the originals too, in every lab but L: noise on every
training row, with held-out lab L's cells clean (score only L's row). FOLDER_MEDIAN=n (environment) takes each median over a folder of about n cells of the lab (cells dealt to folders by
a hash), as `pipe predict` on a folder of n would, instead of over the whole lab. SHRINK_LAB=L SHRINK=f
SHRINK_SHARE=s [SHRINK_CLASS=C] (environment) simulates a segmentation that loses the pale cytoplasm of some of lab L's
cells: a share s of them (of class C only, if given; chosen by a hash) measure f times their diameter, before L's median. `shuffle` is the control: each cell gets the size of another cell of its lab (a fixed permutation), so the values
are as before but say nothing of the class.
"""
import glob, hashlib, json, math, os, shutil, statistics, struct, sys

features, segment, out = sys.argv[1:4]
copies = int(sys.argv[4]) if len(sys.argv) > 4 else 1
jitter = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
mixed = float(sys.argv[6]) if len(sys.argv) > 6 else 1.0
unit = lambda text: int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
diam = {}
by_lab = {}
for f in glob.glob(os.path.join(glob.escape(segment), 'records', '*', '*', '*.json')):
    r = json.load(open(f))
    if not r.get('scale'):
        continue
    lab, cls, stem = f.split(os.sep)[-3], f.split(os.sep)[-2], os.path.basename(f)[:-5]
    d = 1 / r['scale'] * (mixed if unit('microscope:' + stem) < 0.5 else 1)
    if lab == os.environ.get('SHRINK_LAB') and os.environ.get('SHRINK_CLASS', cls) == cls and unit('shrink:' + stem) < float(os.environ.get('SHRINK_SHARE', '1')):
        d *= float(os.environ['SHRINK'])
    diam[(lab, cls, stem)] = d
    by_lab.setdefault(lab, []).append(d)
median = {lab: statistics.median(v) for lab, v in by_lab.items()}
folder_size = int(os.environ.get('FOLDER_MEDIAN', '0'))
folder_of = lambda key: 0
if folder_size:
    folders_in = {lab: max(1, round(len(v) / folder_size)) for lab, v in by_lab.items()}
    folder_of = lambda key: int(unit('folder:' + '/'.join(key)) * folders_in[key[0]])
    groups = {}
    for key, d in diam.items():
        groups.setdefault((key[0], folder_of(key)), []).append(d)
    folder_median = {g: statistics.median(v) for g, v in groups.items()}
if len(sys.argv) > 7 and sys.argv[7] == 'shuffle':
    keys = sorted(diam, key=lambda k: unit('order:' + '/'.join(k)))
    for lab in by_lab:
        mine = [k for k in keys if k[0] == lab]
        values = [diam[k] for k in mine]
        for k, v in zip(mine, values[1:] + values[:1]):
            diam[k] = v
record = json.load(open(os.path.join(features, 'features.json')))
dim = record['dim']
n = missing = 0
for src in glob.glob(os.path.join(glob.escape(features), 'features', '**', '*.f32'), recursive=True):
    rel = os.path.relpath(src, os.path.join(features, 'features'))
    parts = rel.split(os.sep)  # normalize/cells/<lab>/<class>/<stem>.png.f32 or augment/variants/...
    lab, cls, name = parts[2], parts[3], parts[4][: -len('.png.f32')]
    variant = '__v' in name
    stem = name.rsplit('__v', 1)[0] if variant else name
    d = diam.get((lab, cls, stem))
    value = 0.0
    if d is None:
        missing += 1
    else:
        value = math.log(d / (folder_median[(lab, folder_of((lab, cls, stem)))] if folder_size else median[lab]))
        if variant and jitter:
            value += (2 * unit(name) - 1) * jitter
        if not variant and os.environ.get('ORIGINAL_JITTER') and lab != os.environ.get('CLEAN_LAB'):
            value += (2 * unit('original:' + name) - 1) * float(os.environ['ORIGINAL_JITTER'])
    dst = os.path.join(out, 'features', rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src, 'rb') as fi, open(dst, 'wb') as fo:
        fo.write(fi.read() + struct.pack('<%df' % copies, *([value] * copies)))
    n += 1
record['dim'] = dim + copies
json.dump(record, open(os.path.join(out, 'features.json'), 'w'), indent=2)
print(f'{n} vectors, {missing} without a segment record; lab medians {median}')
