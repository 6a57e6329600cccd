#!/usr/bin/env python3
"""Every checkpoint xgrad's examples and trainer write, read by PyTorch (Debian's python3-torch,
the parity suite's safetensors reader): the programs run with tiny budgets in a temporary
directory, then
- each model file (or the "model." part of xgrad-train's checkpoint) loads with
  load_state_dict(strict=True) into the PyTorch twin of its model (models.py) built in float32,
  its names in PyTorch's state-dict order, each tensor's dtype and shape PyTorch's, and the
  values loaded are the file's, bit for bit;
- optimizer state (save_and_resume's file, the "optim." part of the trainer's checkpoint) is
  state.<index>.<field> as in PyTorch's optimizer state dicts: every moment buffer has the shape
  and dtype of the parameter of that index, counters are finite scalars; every tensor finite.
Arguments: xgrad-train save_and_resume resnet_fashion unet_autoencoder tiny_gpt (executables).
Fails (like parity/pytorch) when PyTorch is missing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_parity import read_safetensors, read_safetensors_header  # noqa: E402 (imports torch)

import torch  # noqa: E402
import models  # noqa: E402

GPL = "/usr/share/common-licenses/GPL-3"
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
    return ok


def run(args, cwd):
    r = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    return check(r.returncode == 0, "%s failed (status %d): %s" % (" ".join(args), r.returncode, (r.stdout + r.stderr)[-600:]))


def load_model(what, state, model):
    """strict load into the float32 twin; names, order, dtypes, shapes, values."""
    model = model.float()
    want = model.state_dict()
    check(list(state) == list(want), "%s: names %s, PyTorch's %s" % (what, list(state), list(want)))
    for k, v in state.items():
        if k in want:
            check(v.dtype == want[k].dtype and v.shape == want[k].shape,
                  "%s: %s is %s %s, PyTorch's %s %s" % (what, k, v.dtype, list(v.shape), want[k].dtype, list(want[k].shape)))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        check(False, "%s: load_state_dict(strict=True): %s" % (what, e))
        return None
    got = model.state_dict()
    for k, v in state.items():
        check(torch.equal(got[k], v), "%s: %s is not the file's after loading" % (what, k))
    print("ok   %s: %d entries loaded strictly into %s" % (what, len(state), type(model).__name__))
    return model


def check_optimizer(what, state, model):
    params = list(model.parameters())
    n = 0
    for k, v in state.items():
        m = re.fullmatch(r"state\.(\d+)\.(\w+)", k)
        if not check(m is not None, "%s: entry %s is not state.<index>.<field>" % (what, k)):
            continue
        i, field = int(m.group(1)), m.group(2)
        if not check(i < len(params), "%s: %s: the model has %d parameters" % (what, k, len(params))):
            continue
        check(bool(torch.isfinite(v.double()).all()), "%s: %s is not finite" % (what, k))
        if field == "step":
            check(v.numel() == 1, "%s: %s has %d elements" % (what, k, v.numel()))
        else:
            check(v.shape == params[i].shape and v.dtype == params[i].dtype,
                  "%s: %s is %s %s, parameter %d is %s %s" % (what, k, v.dtype, list(v.shape), i, params[i].dtype,
                                                              list(params[i].shape)))
        n += 1
    check(n > 0, "%s: no optimizer state" % what)
    print("ok   %s: %d optimizer entries fit the model's parameters" % (what, n))


def split(path, prefix):
    return {k[len(prefix):]: v for k, v in read_safetensors(path).items() if k.startswith(prefix)}


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    trainer, save_and_resume, resnet, unet, gpt = (os.path.abspath(a) for a in sys.argv[1:])
    out = tempfile.mkdtemp(prefix="xgrad-example-checkpoints-")
    try:
        # one run per model, with two of the optimizers (Adam's moments, SGD's momentum buffers)
        for kind, twin, optimizer in (("mlp", models.TrainerMlp, "adam"), ("cnn", models.TrainerCnn, "sgd")):
            path = os.path.join(out, kind + ".safetensors")
            if run([trainer, "--model", kind, "--optimizer", optimizer, "--limit", "128", "--epochs", "1", "--quiet",
                    "--threads", "1", "--out", out, "--checkpoint", path], out):
                header, _, _ = read_safetensors_header(path)
                check(header["__metadata__"].get("xgrad.model") == kind, "xgrad-train %s: metadata %r" % (kind, header["__metadata__"]))
                m = load_model("xgrad-train --model %s" % kind, split(path, "model."), twin())
                if m is not None:
                    check_optimizer("xgrad-train --model %s" % kind, split(path, "optim."), m)
        if run([save_and_resume, "--steps", "6", "--dir", out], out):
            m = load_model("save_and_resume model", read_safetensors(os.path.join(out, "save_and_resume_model.safetensors")),
                           models.SaveAndResumeNet())
            if m is not None:
                check_optimizer("save_and_resume optimizer",
                                read_safetensors(os.path.join(out, "save_and_resume_optim.safetensors")), m)
        small = {
            "resnet_fashion": (resnet, ["--limit", "128", "--width", "4"], lambda: models.ResNet(4, 1, 10)),
            "unet_autoencoder": (unet, ["--limit", "128", "--width", "4", "--png", os.path.join(out, "u.png")],
                                 lambda: models.UNetAutoencoder(4, 4)),
            "tiny_gpt": (gpt, ["--steps", "2", "--context", "16", "--embed", "16", "--heads", "2", "--layers", "1",
                               "--chars", "8", "--text", GPL], None),
        }
        for name, (exe, args, twin) in small.items():
            path = os.path.join(out, name + ".safetensors")
            if not run([exe] + args + ["--save", path], out):
                continue
            if twin is None:  # the vocabulary is the text's distinct characters
                twin = lambda: models.TinyGpt(len(set(open(GPL, "rb").read())), context=16, embed=16, heads=2, layers=1)  # noqa: E731
            load_model(name, read_safetensors(path), twin())
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for p in problems:
        print("FAIL " + p)
    print("example checkpoints: %d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
