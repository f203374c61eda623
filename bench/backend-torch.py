# PyTorch side of bench/backend.ts: the same workloads in Debian's python3-torch, one process each.
#   /usr/bin/python3 bench/backend-torch.py train|infer <small_cnn|mobilenet_v1_0.25|resnet50> <size> <batch> <seconds> <threads>
# Prints one `RESULT {json}` line with the fields bench/backend.ts reads. Models mirror
# stages/models (small-cnn.ts; mobilenet.ts at alpha 0.25, Keras padding) with random weights;
# GFLOP/s count work as bench/backend-flops.ts does: 2 FLOPs per multiply-add of every conv and
# linear layer, training = 3x forward except 2x for the layer fed by the input.
import json
import sys
import time

import torch
from torch import nn

kind, arch, size, batch, seconds, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(0)


def small_cnn():
    layers, cin = [], 3
    for cout in (32, 64, 128, 256):
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(256, 4))


def mobilenet_v1(alpha=0.25):
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    c = int(32 * alpha)
    # Keras pads stride-2 convs by (0, 1) on each axis (ZeroPadding2D then 'valid').
    layers = [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, c, 3, stride=2, bias=False), nn.BatchNorm2d(c, eps=1e-3), nn.ReLU6()]
    for filters, stride in blocks:
        out = int(filters * alpha)
        if stride == 2:
            layers += [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(c, c, 3, stride=2, groups=c, bias=False)]
        else:
            layers += [nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)]
        layers += [nn.BatchNorm2d(c, eps=1e-3), nn.ReLU6(), nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out, eps=1e-3), nn.ReLU6()]
        c = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Dropout(1e-3), nn.Conv2d(c, 4, 1), nn.Flatten())


def build(name):
    if name == 'small_cnn':
        return small_cnn()
    if name == 'mobilenet_v1_0.25':
        return mobilenet_v1(0.25)
    if name == 'feature_head':
        # The study's head on cached features (graph-surgery.ts): BatchNorm of the features (Keras eps),
        # Dense 256 relu, Dropout 0.5, Dense 4.
        return nn.Sequential(nn.BatchNorm1d(size, eps=1e-3), nn.Linear(size, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 4))
    if name == 'resnet50':
        import torchvision
        return torchvision.models.resnet50(weights=None, num_classes=4)
    raise SystemExit(f'backend-torch.py: no model {name}')


def count_flops(model, x):
    """(forward, training) FLOPs per image, counted like bench/backend-flops.ts."""
    work = []

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            macs = output.shape[2] * output.shape[3] * kh * kw * (module.in_channels // module.groups) * module.out_channels
        else:
            macs = module.in_features * module.out_features
        work.append((2 * macs, inputs[0] is x))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    forward = sum(f for f, _ in work)
    training = sum(f * (2 if first else 3) for f, first in work)
    return forward, training


model = build(arch)
x = (torch.rand(batch, size) if arch == 'feature_head' else torch.rand(batch, 3, size, size)) * 2 - 1
y = torch.arange(batch) % 4
forward, training = count_flops(model.eval(), x[:1])
if kind == 'train':
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001) if arch == 'feature_head' else torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
else:
    model.eval()

    def step():
        with torch.no_grad():
            model(x)

step()  # warm-up
steps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds or steps < 2:
    step()
    steps += 1
elapsed = time.perf_counter() - t0
work = training if kind == 'train' else forward
print('RESULT ' + json.dumps({'kind': kind, 'variant': f'pytorch {torch.__version__} ({threads} thread{"s" if threads > 1 else ""})',
                              'model': arch, 'size': size, 'batch': batch, 'steps': steps, 'seconds': elapsed,
                              'imgPerSec': steps * batch / elapsed, 'gflops': steps * batch * work / elapsed / 1e9}))
