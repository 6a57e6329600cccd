#!/usr/bin/env python3
"""The three ported models (examples/programs/models: ResNet, U-Net autoencoder, tiny GPT) against
their PyTorch twins (models.py), in float64, through safetensors files in both directions:
- xgrad -> PyTorch: the driver (tests/parity/models_driver.cpp, the path given as the argument)
  writes each model's initial weights; PyTorch loads them with load_state_dict(strict=True) (the
  state dict's names in PyTorch's order), and computes on the driver's inputs, in training mode:
  the loss, every parameter's gradient, the state after the forward (batch norm's running
  statistics), and five AdamW steps (lr 1e-2, weight decay 0.1): the loss before each and the
  final parameters and buffers. Each must equal xgrad's to 1e-10 (|a - b| <= 1e-10 max(1, |b|)).
- PyTorch -> xgrad: PyTorch's own initialisation (and running statistics set to other values) is
  written as safetensors, the driver loads it strictly, writes back what it loaded (must be
  identical) and the same results, compared with PyTorch's on those weights.
Fails (like parity/pytorch) when PyTorch is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_parity import Compare, read_safetensors, read_safetensors_header, TOL  # noqa: E402 (imports torch)
from run_checkpoint import write_safetensors  # noqa: E402

import torch  # noqa: E402
import models  # noqa: E402

STEPS = 5


def torch_results(m, loss_fn, x, y):
    """What the driver writes, computed by PyTorch."""
    out = {}
    m.train()
    loss = loss_fn(m, x, y)
    loss.backward()
    out["loss"] = loss.detach()
    for n, p in m.named_parameters():
        out["grad." + n] = p.grad.detach().clone()
    for n, t in m.state_dict().items():
        out["after." + n] = t.detach().clone()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2, weight_decay=0.1)
    for s in range(STEPS):
        if s > 0:
            opt.zero_grad()
            loss = loss_fn(m, x, y)
            loss.backward()
            out["step%d.loss" % s] = loss.detach()
        opt.step()
    for n, t in m.state_dict().items():
        out["final." + n] = t.detach().clone()
    return out


def compare(what, got, want, cmp):
    if list(got) != list(want):
        cmp.problems.append("%s: entries %s, PyTorch's %s" % (what, sorted(set(got) ^ set(want)) or "in another order",
                                                              list(want)[:8]))
    for k in want:
        if k in got:
            cmp("%s %s" % (what, k), got[k], want[k])


def main():
    if len(sys.argv) != 2:
        print("usage: run_models.py MODELS_DRIVER")
        return 2
    out = tempfile.mkdtemp(prefix="xgrad-models-")
    failed, compared = [], 0
    try:
        def driver():
            r = subprocess.run([sys.argv[1], out], capture_output=True, text=True)
            if r.returncode != 0:
                failed.append("models_driver failed (status %d): %s%s" % (r.returncode, r.stdout, r.stderr))
            return r.returncode == 0

        t0 = time.time()
        if not driver():
            raise SystemExit
        print("driver, xgrad's weights: %.1f s" % (time.time() - t0))
        torch_states = {}
        for name, (build, loss_fn) in models.PARITY.items():
            t0 = time.time()
            cmp = Compare(TOL)
            inputs = read_safetensors(os.path.join(out, name + ".inputs.safetensors"))
            x, y = inputs["x"], inputs["y"]
            # xgrad -> PyTorch
            init = read_safetensors(os.path.join(out, name + ".xgrad.init.safetensors"))
            torch.manual_seed(0)
            m = build().double()
            names = list(m.state_dict())
            if list(init) != names:
                cmp.problems.append("xgrad's state dict: %s, PyTorch's %s" % (list(init), names))
            m.load_state_dict(init, strict=True)
            got = read_safetensors(os.path.join(out, name + ".xgrad.results.safetensors"))
            compare("xgrad weights:", got, torch_results(m, loss_fn, x, y), cmp)
            # PyTorch's own weights and running statistics, for the other direction
            torch.manual_seed(11)
            m = build().double()
            with torch.no_grad():
                for n, b in m.named_buffers():
                    if n.endswith("running_mean"):
                        b.copy_(torch.randn_like(b) * 0.1)
                    elif n.endswith("running_var"):
                        b.copy_(torch.rand_like(b) + 0.5)
                    elif n.endswith("num_batches_tracked"):
                        b.fill_(3)
            state = m.state_dict()
            torch_states[name] = (m, {k: v.clone() for k, v in state.items()}, cmp, t0)
            write_safetensors(os.path.join(out, name + ".torch.safetensors"), list(state.items()), {"format": "pt"})
        t0 = time.time()
        ok = driver()
        print("driver, PyTorch's weights: %.1f s" % (time.time() - t0))
        for name, (build, loss_fn) in models.PARITY.items():
            m, state, cmp, t0 = torch_states[name]
            if ok:
                inputs = read_safetensors(os.path.join(out, name + ".inputs.safetensors"))
                back = read_safetensors(os.path.join(out, name + ".torch.init.safetensors"))
                if list(back) != list(state):
                    cmp.problems.append("PyTorch's weights as xgrad loaded them: %s" % list(back))
                for k, v in state.items():
                    if k in back and not (back[k].dtype == v.dtype and torch.equal(back[k], v)):
                        cmp.problems.append("PyTorch's %s is not what xgrad loaded" % k)
                got = read_safetensors(os.path.join(out, name + ".torch.results.safetensors"))
                compare("PyTorch weights:", got, torch_results(m, loss_fn, inputs["x"], inputs["y"]), cmp)
            n_params = sum(p.numel() for p in m.parameters())
            print("%-6s %s: %d parameters, %d state entries, max rel error %.3g (%.1f s)" %
                  (name, "FAIL" if cmp.problems else "ok", n_params, len(state), cmp.max_rel, time.time() - t0))
            failed += ["%s: %s" % (name, p) for p in cmp.problems]
        compared = Compare.compared
    except SystemExit:
        pass
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for p in failed:
        print("FAIL " + p)
    print("models: %d tensors compared, %d problems" % (compared, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
