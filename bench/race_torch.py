"""PyTorch's side of the bench race (bench/race.ts): a child process that
builds the race's cases on request and times them, so the race can interleave
PyTorch's samples with Flint's and tfjs's on a shared machine.

One JSON object per line on stdin, one answer per line on stdout:

  {"cmd": "info"}                                   -> versions, threads, the BLAS path
  {"cmd": "setup", "id": "...", "case": {...}}      -> {"ok": true} or {"error": "..."}
  {"cmd": "sample", "id": "...", "minMs": 50}       -> {"ms": time per run, "runs": n}
  {"cmd": "drop", "id": "..."}                      -> {"ok": true}
  {"cmd": "quit"}

A case is {"kind": "matmul", "n": 1024}, {"kind": "conv", "batch": 1, "size": 56},
{"kind": "resnet_forward" | "resnet_train", "batch": 8, "size": 224} or {"kind": "mlp"}.

Matrix products and linear layers: Debian's torch sends them to the BLAS it
links (libblas.so.3). bench/race.ts puts OpenBLAS first on LD_LIBRARY_PATH when
it is installed; this script checks which library really got loaded, and when
it is not an optimised one it runs them through oneDNN instead (mkldnn_linear,
the kernel torch.utils.mkldnn's MkldnnLinear calls), so the anchor is the speed
a pip-installed PyTorch has, not the reference BLAS's few GFLOP/s.
"""

import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("RACE_TORCH_THREADS", "2")))


def loaded_blas():
    """The BLAS library mapped into this process, after a product has run."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    with open("/proc/self/maps") as maps:
        names = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    return sorted(names)


BLAS_LIBS = loaded_blas()
OPENBLAS = any("openblas" in name for name in BLAS_LIBS)
if OPENBLAS:
    BLAS_PATH = "OpenBLAS (%s, OPENBLAS_CORETYPE=%s)" % (
        os.path.basename(max((n for n in BLAS_LIBS if "openblas" in n), key=len)),
        os.environ.get("OPENBLAS_CORETYPE", "auto"),
    )
else:
    BLAS_PATH = "oneDNN (mkldnn_linear; the linked BLAS is %s)" % (", ".join(BLAS_LIBS) or "none")


def onednn_mm(a, b):
    """a @ b through oneDNN's inner product."""
    return torch._C._nn.mkldnn_linear(a.contiguous().to_mkldnn(), b.t().contiguous().to_mkldnn(), None).to_dense()


class OneDnnLinearFunction(torch.autograd.Function):
    """F.linear with oneDNN's inner product forward and backward (mkldnn tensors have no autograd of their own)."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out = torch._C._nn.mkldnn_linear(x.contiguous().to_mkldnn(), weight.contiguous().to_mkldnn(), bias.to_mkldnn())
        return out.to_dense()

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return onednn_mm(grad, weight), onednn_mm(grad.t(), x), grad.sum(0)


class OneDnnLinear(nn.Linear):
    def forward(self, x):
        return OneDnnLinearFunction.apply(x, self.weight, self.bias)


Linear = nn.Linear if OPENBLAS else OneDnnLinear
mm = torch.mm if OPENBLAS else onednn_mm


def resnet18():
    import torchvision  # imported here: only the ResNet cases need it

    return torchvision.models.resnet18()


def build(case):
    """A function that runs the case once."""
    torch.manual_seed(0)
    kind = case["kind"]
    if kind == "matmul":
        n = case["n"]
        a, b = torch.randn(n, n), torch.randn(n, n)
        return lambda: mm(a, b)
    if kind == "conv":
        x = torch.randn(case["batch"], 64, case["size"], case["size"])
        w = torch.randn(64, 64, 3, 3)

        def conv():
            with torch.no_grad():
                F.conv2d(x, w, padding=1)

        return conv
    if kind == "resnet_forward":
        model = resnet18().eval()
        x = torch.rand(case["batch"], 3, case["size"], case["size"])

        def forward():
            with torch.no_grad():
                model(x)

        return forward
    if kind == "resnet_train":
        model = resnet18().train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        criterion = nn.CrossEntropyLoss()
        x = torch.rand(case["batch"], 3, case["size"], case["size"])
        y = torch.randint(0, 1000, (case["batch"],))

        def step():
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()

        return step
    if kind == "mlp":
        # Tutorial 001: 64 x 1000 -> 100 -> 10, ReLU, MSELoss(reduction="sum"), Adam lr 1e-4.
        model = nn.Sequential(Linear(1000, 100), nn.ReLU(), Linear(100, 10))
        loss_fn = nn.MSELoss(reduction="sum")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        x, y = torch.randn(64, 1000), torch.randn(64, 10)

        def step():
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step
    raise ValueError("unknown case kind %r" % kind)


def sample(run, min_ms):
    """Runs `run` until `min_ms` have passed (at least once); the mean time per run in ms."""
    runs = 0
    start = time.perf_counter()
    while True:
        run()
        runs += 1
        elapsed = (time.perf_counter() - start) * 1000
        if elapsed >= min_ms:
            return elapsed / runs, runs


def main():
    cases = {}
    for line in sys.stdin:
        request = json.loads(line)
        cmd = request["cmd"]
        try:
            if cmd == "info":
                try:
                    import torchvision

                    vision = torchvision.__version__
                except ImportError:
                    vision = None
                answer = {
                    "torch": torch.__version__,
                    "torchvision": vision,
                    "threads": torch.get_num_threads(),
                    "blas": BLAS_PATH,
                    "openblas": OPENBLAS,
                    "python": sys.version.split()[0],
                }
            elif cmd == "setup":
                cases[request["id"]] = build(request["case"])
                answer = {"ok": True}
            elif cmd == "sample":
                ms, runs = sample(cases[request["id"]], request.get("minMs", 0))
                answer = {"ms": ms, "runs": runs}
            elif cmd == "drop":
                cases.pop(request["id"], None)
                answer = {"ok": True}
            elif cmd == "quit":
                return
            else:
                answer = {"error": "unknown command %r" % cmd}
        except Exception as e:  # reported to the race, which prints it as the cell's reason
            answer = {"error": "%s: %s" % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
