"""PyTorch reference for `anode bench`'s stack model and ODE-ResNet (issues 6 and 14).

--model stack (the default): L ODE blocks, f = conv3x3 -> ReLU -> conv3x3 (no bias), forward Euler
with N_t steps on [0, 1], batch B of C x S x S float32, loss = half the mean square of the output
(bounded below: a plain mean is driven to -inf and overflows within a few steps), SGD (momentum 0.9, weight decay 5e-4,
lr 0.01): exactly what `anode bench` times.

--model resnet: org.anode.models.OdeResNet with depths {1, 1, 1, 1} and a --width multiplier: a
conv3x3-BN-ReLU stem, four stages of a ResNet basic block (stride 1, 2, 2, 2; a 1x1 conv + BN
projection shortcut when the shape changes) followed by one ODE block whose field is
conv3x3-BN-ReLU-conv3x3-BN-ReLU (bias-free convs, Euler N_t steps on [0, 1]), 4x4 average pooling
and a linear classifier; batch B of 3 x S x S in [-1, 1), random labels, cross-entropy loss. Two gradient methods:

  store-all  autograd keeps every step of every block
  anode      torch.utils.checkpoint per block: keeps the block input, recomputes the block's
             N_t steps in backward and sweeps them once (ANODE, Gholami et al. 2019, Alg. 1)

Prints the median step time (s) of `repeats` steps after a warm-up of at least `warmup` steps and
`warmup-seconds` seconds, the process's peak resident memory during them and the evaluations of f
per step in the forward and the backward pass, one line per method, and the ratio anode / store-all; with --csv, machine-readable lines for `anode bench
--reference`. Runs with whatever torch is installed (Debian: apt install python3-torch).

  ./anode bench --threads 2 --reference python3      # both, in one run (this file is its resource)
  python3 anode-cli/src/main/resources/org/anode/cli/experiment/anode_reference.py --threads 2
"""

import argparse
import math
import statistics
import time

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint


EVALUATIONS = {"forward": 0, "backward": 0}
PHASE = ["forward"]


class Field(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)

    def forward(self, z):
        EVALUATIONS[PHASE[0]] += 1
        return self.conv2(torch.relu(self.conv1(z)))


def peak_rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # the peak then covers the process so far


class ResNetField(nn.Module):
    """OdeResNet.field: conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU, bias-free convs."""

    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())

    def forward(self, z):
        EVALUATIONS[PHASE[0]] += 1
        return self.body(z)


class BasicBlock(nn.Module):
    """org.anode.models.BasicBlock: ReLU(BN(conv(ReLU(BN(conv(x))))) + shortcut(x))."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return torch.relu(self.residual(x) + self.shortcut(x))


def scaled(channels, width):
    """Layers.scaled: channels times the width multiplier, rounded, at least 1."""
    return max(1, int(math.floor(channels * width + 0.5)))


class EulerBlock(nn.Module):
    def __init__(self, c, steps, field=Field):
        super().__init__()
        self.f = field(c)
        self.steps = steps

    def forward(self, z):
        h = 1.0 / self.steps
        for _ in range(self.steps):
            z = z + h * self.f(z)
        return z


def layers(args):
    """The model as a list of modules; the ODE blocks are the EulerBlock ones."""
    if args.model == "stack":
        return [EulerBlock(args.channels, args.nt) for _ in range(args.blocks)]
    c = scaled(64, args.width)
    out = [nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())]
    for channels, stride in zip((64, 128, 256, 512), (1, 2, 2, 2)):
        cout = scaled(channels, args.width)
        out += [BasicBlock(c, cout, stride), EulerBlock(cout, args.nt, ResNetField)]
        c = cout
    return out + [nn.AvgPool2d(4), nn.Flatten(), nn.Linear(c, 10)]


def run(method, args):
    torch.manual_seed(11)
    blocks = nn.ModuleList(layers(args))
    opt = torch.optim.SGD(blocks.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    stack = args.model == "stack"
    x = torch.rand(args.batch, args.channels if stack else 3, args.size, args.size) * 2 - 1
    labels = torch.randint(0, 10, (args.batch,))
    times = []
    reset_peak_rss()
    warmup_end = time.perf_counter() + args.warmup_seconds
    i = 0
    while len(times) < args.repeats:
        timed = i >= args.warmup and time.perf_counter() >= warmup_end
        if timed and not times:
            EVALUATIONS.update(forward=0, backward=0)
        i += 1
        t0 = time.perf_counter()
        PHASE[0] = "forward"
        z = x
        for b in blocks:
            if method == "anode" and isinstance(b, EulerBlock):
                z = checkpoint(b, z, use_reentrant=False)
            else:
                z = b(z)
        loss = 0.5 * (z * z).mean() if stack else nn.functional.cross_entropy(z, labels)
        opt.zero_grad()
        PHASE[0] = "backward"
        loss.backward()
        opt.step()
        loss.item()
        if timed:
            times.append(time.perf_counter() - t0)
    n = args.repeats
    return (statistics.median(times), peak_rss_bytes(),
            EVALUATIONS["forward"] / n, EVALUATIONS["backward"] / n)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--model", choices=("stack", "resnet"), default="stack")
    p.add_argument("--width", type=float, default=0.25)
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--nt", type=int, default=8)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--warmup-seconds", type=float, default=0.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--methods", default="store-all,anode")
    p.add_argument("--csv", action="store_true",
                   help="print 'torch,VERSION' then 'method,seconds,peak_rss_bytes,f_fwd,f_bwd'")
    args = p.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if args.csv:
        print(f"torch,{torch.__version__}", flush=True)
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    res = {}
    for m in args.methods.split(","):
        seconds, rss, fwd, bwd = run(m, args)
        res[m] = seconds
        if args.csv:
            print(f"{m},{seconds:.6f},{rss},{fwd:.1f},{bwd:.1f}", flush=True)
        else:
            print(f"{m:10s} {seconds:.3f} s, peak RSS {rss / 2**20:.0f} MiB, "
                  f"f per step {fwd:.0f} forward / {bwd:.0f} backward")
    if "store-all" in res and "anode" in res and not args.csv:
        print(f"anode / store-all {res['anode'] / res['store-all']:.2f}")


if __name__ == "__main__":
    main()
