#!/usr/bin/env python3
"""PyTorch parity: runs tests/parity's driver (the path given as the argument), then recomputes
every case it wrote with PyTorch (Debian's python3-torch) in float64 and compares.

Per op sample: the output, the VJP with the driver's cotangent g, and the double-backward
product (the gradient of sum_i <vjp_i, v_i> with respect to the inputs and g, create_graph=True).
Per layer / loss: the outputs and the gradients of the inputs and of every parameter, after
loading xgrad's parameters and buffers by name (strictly: PyTorch's names must be xgrad's), and
the buffers after the forward. Per optimizer: the loss and the parameters after each step (5, or
the case's count).
Per scheduler: every group's lr over 20 epochs (and its momentum or beta1 where the schedule
cycles it).

Tolerance, elementwise: |xgrad - torch| <= 1e-10 * max(1, |torch|) (relative for large values,
absolute below 1); NaN and inf must be at the same positions (inf with the same sign). Shapes
must be equal. The tensors are read from the safetensors files the driver writes with xgrad's own
writer (a small reader below, struct + json: exact float64, no extra Python package).

Exit status 0 only when every case agrees, every registered op has a PyTorch form or an entry of
NO_PYTORCH_FORM, and every case of KNOWN_XGRAD_BUGS still fails (a fixed bug must leave the list).
"""
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings

TOL = 1e-10

# Per-op tolerances, each with its reason.
OP_TOLERANCE = {
    "polygamma": (2e-9, "PyTorch 1.13's trigamma (polygamma(1, x)) is ~5e-10 relative off: "
                        "polygamma(1, 1) = 1.6449340676383375, pi^2/6 = 1.6449340668482264 (xgrad's)"),
    "digamma": (2e-9, "its derivative is trigamma: PyTorch 1.13's is ~5e-10 relative off (see polygamma)"),
    "lgamma": (2e-9, "its second derivative is trigamma: PyTorch 1.13's is ~5e-10 relative off (see polygamma)"),
    "celu": (1e-7, "PyTorch 1.13's celu backward is up to ~5e-8 relative off the exact exp(x / alpha): alpha "
                   "0.6, x -1.3: exp(x / alpha) = 0.11455884399268769 (xgrad's), PyTorch 0.11455884930354022"),
    "hardsigmoid": (5e-8, "PyTorch 1.13's hardsigmoid backward uses 1/6 in float32: 0.16666667163372040 "
                          "instead of 0.16666666666666666 (3e-8 relative); xgrad's is the float64 1/6"),
}

# Ops whose double backward PyTorch 1.13 lacks: their forward and VJP are compared, not the
# second-order product.
NO_TORCH_DOUBLE_BACKWARD = {
    "hardsigmoid": "PyTorch 1.13: derivative for aten::hardsigmoid_backward is not implemented",
    "cdist": "PyTorch 1.13: the derivative for '_cdist_backward' is not implemented",
    "ctc_loss": "PyTorch 1.13: the derivative for '_ctc_loss_backward' is not implemented (xgrad's "
                "second backward through ctc_loss raises too)",
}

# Registered ops with no PyTorch form (OpSpec::torch null), each with its reason.
NO_PYTORCH_FORM = {
    "interpolate_backward": "xgrad's gradient op of interpolate (its adjoint, a scatter-add of the same taps); "
                            "PyTorch has one aten op per mode and rank. Its forward and VJP are what interpolate's "
                            "VJP and second-order product compute, and those are compared",
    "pad_mode_backward": "xgrad's gradient op of the reflect/replicate/circular pads (edge positions summed back); "
                         "compared through the pads' VJPs and second-order products",
}

# NaN variants (group op_nan: each op sample with NaN in one element of its first floating input)
# whose VJP is not compared, each with its reason; their outputs still are.
NAN_VJP_EXCEPTIONS = {
    name: "PyTorch 1.13's backward at NaN depends on where the element sits: its vectorised loop "
          "gives %s, its scalar tail (the last elements of a tensor, or a small tensor) %s; xgrad "
          "gives the vectorised result everywhere" % what
    for name, what in {
        "hardtanh": ("0", "the gradient"),
        "elu": ("NaN", "the gradient"),
        "celu": ("NaN", "the gradient"),
        "selu": ("NaN", "scale times the gradient"),
        "hardswish": ("NaN", "the gradient"),
        "logit": ("0 (with eps)", "NaN"),
    }.items()
}

NAN_VJP_EXCEPTIONS["lstsq"] = (
    "PyTorch 1.13's lstsq gives a NaN solution, as xgrad's, but its backward goes through an SVD "
    "that raises LinAlgError on the NaN; xgrad's backward (through qr and solve) gives NaN")

# NaN variants where PyTorch 1.13 is itself inconsistent (its forward and backward, or its
# backward and other ops, disagree on the NaN): (op, sample label) -> reason. They are not compared.
NAN_EXCEPTIONS = {
    ("cdist", "[3, 2] with [2, 2] p inf (NaN in x0)"):
        "PyTorch's p = inf forward drops the NaN (its max compares with >: distance 1.0) while its "
        "backward gives NaN; xgrad's distance is NaN and its gradient follows it",
    ("cdist", "[3, 2] with [4, 2] p 1 (NaN in x0)"):
        "PyTorch's p = 1 backward takes sign(NaN) = NaN, while torch.sign(NaN) is 0; xgrad's "
        "backward uses sign, giving 0 where the difference is NaN (the distances are NaN in both)",
    ("pairwise_distance", "[2, 3] p inf eps 0.1 (NaN in x0)"):
        "PyTorch's distance is NaN but its p = inf backward gives 0 to every element of that row; "
        "xgrad's gradient is NaN there",
    ("scatter_reduce", "[2, 3] amax (NaN in x0)"):
        "PyTorch's amax backward shares g among the elements equal to the result; a NaN equals "
        "nothing, so the share is g / 0 and its 0 * inf gives NaN to the index's other elements; "
        "xgrad gives them 0",
    ("scatter_reduce", "[2, 3] amin (NaN in x0)"): "as amax",
    ("matrix_exp", "[3, 3] (NaN in x0)"):
        "PyTorch 1.13's matrix_exp of a matrix holding NaN returns uninitialised memory (values "
        "such as 6.9e-310 in every position, no NaN); xgrad's result and gradient are NaN",
    ("matrix_exp", "norm > 1/2: squarings [3, 3] (NaN in x0)"): "as the [3, 3] case",
    ("matrix_exp", "batched [2, 2, 2] (NaN in x0)"): "as the [3, 3] case",
    ("vector_norm", "inf [2, 3] (NaN in x0)"):
        "PyTorch's inf-norm backward gives g to the elements equal to the norm; the norm is NaN and "
        "a NaN equals nothing, so every gradient is 0; xgrad's gradient is NaN (the norm is NaN in both)",
    ("vector_norm", "-inf dim 1 [2, 3] (NaN in x0)"): "as the inf case",
    ("qr", "Q of wide [2, 4] (NaN in x0)"):
        "both give Q and R entirely NaN; PyTorch's wide-QR backward leaves 4 of the 8 gradients "
        "finite, xgrad's makes all 8 NaN (every element of a NaN factorisation's gradient)",
    ("det", "singular (rank 2) [3, 3] (NaN in x0)"):
        "the determinant is NaN in both; PyTorch's singular-case backward leaves 5 of 9 gradients "
        "finite, xgrad's (the adjugate through the SVD) makes all 9 NaN",
    ("cumprod", "[6] zeros in a row (NaN in x0)"):
        "PyTorch's cumprod backward at zeros takes products of the elements after the first zero "
        "only, so a NaN after it reaches fewer gradients than in xgrad's formula (both agree "
        "without the NaN)",
}

# Cases that disagree because xgrad is wrong (kept failing on purpose until fixed): (op or case
# name, sample label) -> reason.
KNOWN_XGRAD_BUGS = {}


def fail_missing_torch(err):
    print("parity: PyTorch is missing: %s cannot import torch (%s). Install Debian's "
          "python3-torch (scripts/setup.sh does when XGRAD_SETUP_TESTS=1, as scripts/run-tests.sh sets)." % (sys.executable, err))
    sys.exit(1)


try:
    import torch
except Exception as e:  # noqa: BLE001 (any import failure means no usable torch)
    fail_missing_torch(e)

warnings.filterwarnings("ignore")
torch.set_default_dtype(torch.float64)

DTYPES = {"F64": torch.float64, "F32": torch.float32, "I64": torch.int64, "I32": torch.int32,
          "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool, "F16": torch.float16, "BF16": torch.bfloat16}


def read_safetensors_header(path):
    """(header, data start, file bytes) of a safetensors file: an 8-byte little-endian header
    length, then the JSON header, then the data."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), 8 + n, data


def read_safetensors(path):
    """name -> tensor, from a safetensors file."""
    header, base, data = read_safetensors_header(path)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if a == b:
            out[name] = torch.empty(info["shape"], dtype=dtype)
        else:
            out[name] = torch.frombuffer(bytearray(data[base + a:base + b]), dtype=dtype).reshape(info["shape"]).clone()
    return out


class Compare:
    """Comparisons of one case: collects what differed and the largest relative error."""

    def __init__(self, tol):
        self.tol = tol
        self.problems = []
        self.max_rel = 0.0

    compared = 0  # tensors compared, over all cases

    def __call__(self, what, xg, ref):
        Compare.compared += 1
        if ref is None:
            ref = torch.zeros_like(xg)
        if not isinstance(ref, torch.Tensor):
            ref = torch.tensor(ref)
        a = xg.detach().to(torch.float64)
        b = ref.detach().to(torch.float64)
        if tuple(a.shape) != tuple(b.shape):
            self.problems.append("%s: shape %s, PyTorch %s" % (what, list(a.shape), list(b.shape)))
            return
        if a.numel() == 0:
            return
        nan_a, nan_b = torch.isnan(a), torch.isnan(b)
        if not torch.equal(nan_a, nan_b):
            self.problems.append("%s: NaN at other positions (xgrad %d, PyTorch %d)" %
                                 (what, int(nan_a.sum()), int(nan_b.sum())))
            return
        inf_a, inf_b = torch.isinf(a), torch.isinf(b)
        if not torch.equal(inf_a, inf_b) or not torch.equal(a[inf_a], b[inf_b]):
            self.problems.append("%s: inf at other positions or of other sign" % what)
            return
        fin = ~(nan_a | inf_a)
        if not fin.any():
            return
        err = ((a[fin] - b[fin]).abs() / b[fin].abs().clamp(min=1.0)).max().item()
        self.max_rel = max(self.max_rel, err)
        if not err <= self.tol:
            i = int(((a - b).abs() / b.abs().clamp(min=1.0)).nan_to_num(0.0).flatten().argmax())
            self.problems.append("%s: max rel error %.3g (element %d: xgrad %.17g, PyTorch %.17g)" %
                                 (what, err, i, a.flatten()[i].item(), b.flatten()[i].item()))


NS = {"torch": torch, "math": math, "F": torch.nn.functional}


def flatten(o):
    if o is None:
        return []
    if isinstance(o, torch.Tensor):
        return [o]
    if isinstance(o, (tuple, list)):
        return [t for x in o for t in flatten(x)]
    raise TypeError("unexpected output of type %s" % type(o).__name__)


def inputs_of(case, T):
    xs = []
    for i in range(case["inputs"]):
        x = T["x%d" % i].clone()
        if case["requires_grad"][i]:
            x.requires_grad_(True)
        xs.append(x)
    return xs


def run_op(case, T, cmp):
    xs = inputs_of(case, T)
    env = dict(NS, OP=eval(case["torch"], NS), **{"x%d" % i: x for i, x in enumerate(xs)})
    expr = case["expr"] or "OP(%s)" % ", ".join("x%d" % i for i in range(len(xs)))
    out = eval(expr, env)
    cmp("output", T["out"], out)
    if not case.get("differentiable"):
        return
    idx = [i for i, rg in enumerate(case["requires_grad"]) if rg]
    wrt = [xs[i] for i in idx]
    nan_case = case["group"] == "op_nan"
    if nan_case and case["name"] in NAN_VJP_EXCEPTIONS:
        return
    g = T["g"].clone().requires_grad_(not nan_case)
    if out.requires_grad:
        vjp = torch.autograd.grad(out, wrt, g, create_graph=not nan_case, allow_unused=True)
    else:
        vjp = [None] * len(wrt)
    terms = []
    for i, vj in zip(idx, vjp):
        cmp("vjp x%d" % i, T["vjp%d" % i], vj)
        if vj is not None and vj.requires_grad:
            terms.append((vj * T["v%d" % i]).sum())
    if nan_case or case["name"] in NO_TORCH_DOUBLE_BACKWARD:
        return
    if "double_backward_error" in case:
        cmp.problems.append("xgrad's double backward raised: %s" % case["double_backward_error"])
        return
    gg = [None] * (len(wrt) + 1)
    if terms:
        gg = torch.autograd.grad(sum(terms), wrt + [g], allow_unused=True)
    for i, t in zip(idx, gg):
        cmp("double backward x%d" % i, T["gg%d" % i], t)
    cmp("double backward g", T["ggg"], gg[-1])


def run_module(case, T, cmp):
    m = eval(case["torch"], NS).double()
    m.train(not case["eval"])
    state = {n: T["param." + n] for n in case["params"]}
    state.update({n: T["buffer." + n] for n in case["buffers"]})
    m.load_state_dict(state, strict=True)
    xs = inputs_of(case, T)
    env = dict(NS, m=m, **{"x%d" % i: x for i, x in enumerate(xs)})
    outs = flatten(eval(case["expr"], env))
    if len(outs) != case["outputs"]:
        cmp.problems.append("outputs: xgrad %d, PyTorch %d" % (case["outputs"], len(outs)))
        return
    for j, o in enumerate(outs):
        cmp("output %d" % j, T["out%d" % j], o)
    params = dict(m.named_parameters())
    wrt, names = [], []
    for i, x in enumerate(xs):
        if case["requires_grad"][i]:
            wrt.append(x)
            names.append("grad.x%d" % i)
    for n in case["params"]:
        if "grad." + n in T:
            wrt.append(params[n])
            names.append("grad." + n)
    d = [(o, T["g%d" % j]) for j, o in enumerate(outs) if o.requires_grad]
    grads = [None] * len(wrt)
    if d and wrt:
        grads = torch.autograd.grad([o for o, _ in d], wrt, [g for _, g in d], allow_unused=True)
    for n, gr in zip(names, grads):
        cmp(n, T[n], gr)
    buffers = dict(m.named_buffers())
    for n in case["buffers"]:
        cmp("buffer %s after forward" % n, T["after." + n], buffers[n])


def run_optimizer(case, T, cmp):
    p = [T["init.p%d" % i].clone().requires_grad_(True) for i in range(2)]
    env = dict(NS, p=p, x0=T["x0"], x1=T["x1"])
    opt = eval(case["torch"], env)

    def loss():
        return eval(case["expr"], env)

    for s in range(case["steps"]):
        if case["closure"]:
            def closure():
                opt.zero_grad()
                v = loss()
                v.backward()
                return v
            v = opt.step(closure)
        else:
            opt.zero_grad()
            v = loss()
            v.backward()
            if case["before_step"]:
                eval(case["before_step"], env)
            opt.step()
        cmp("step %d loss" % s, T["step%d.loss" % s], v)
        for i in range(2):
            cmp("step %d p%d" % (s, i), T["step%d.p%d" % (s, i)], p[i])


def run_scheduler(case, T, cmp):
    p = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
    groups = [{"params": [p[0]], "lr": 0.1}, {"params": [p[1]], "lr": 0.05}]
    momentum = case.get("momentum")
    if momentum == "betas":
        opt = torch.optim.Adam(groups)
    else:
        opt = torch.optim.SGD(groups, momentum=0.9 if momentum else 0.0)
    sched = eval(case["torch"], dict(NS, opt=opt))
    scheds = sched if isinstance(sched, list) else [sched]  # a list: each stepped, in order

    def momenta():
        return [g["betas"][0] if momentum == "betas" else g["momentum"] for g in opt.param_groups]

    lrs, moms = [[g["lr"] for g in opt.param_groups]], [momenta()]
    for e in range(case["epochs"]):
        opt.step()
        for s in scheds:
            if case["metrics"]:
                s.step(case["metrics"][e])
            else:
                s.step()
        lrs.append([g["lr"] for g in opt.param_groups])
        moms.append(momenta())
    cmp("lr", T["lrs"], torch.tensor(lrs, dtype=torch.float64))
    if momentum:
        cmp(momentum, T["momenta"], torch.tensor(moms, dtype=torch.float64))


def run_op_nan_error(case, cmp):
    """xgrad raised on the NaN variant: right only when PyTorch raises as well."""
    T = read_safetensors(os.path.join(OUT_DIR[0], case["file"]))
    xs = inputs_of(case, T)
    env = dict(NS, OP=eval(case["torch"], NS), **{"x%d" % i: x for i, x in enumerate(xs)})
    try:
        eval(case["expr"] or "OP(%s)" % ", ".join("x%d" % i for i in range(len(xs))), env)
    except Exception:  # noqa: BLE001 (both raise: agreed)
        return
    cmp.problems.append("xgrad raised: " + case["error"] + " (PyTorch gives a result)")


OUT_DIR = [None]

RUNNERS = {"op": run_op, "op_nan": run_op, "layer": run_module, "loss": run_module, "function": run_module,
           "optimizer": run_optimizer, "scheduler": run_scheduler}


def main():
    # run_parity.py DRIVER, or run_parity.py --dir DIR: the output of an earlier driver run
    # (`parity_driver DIR`), e.g. to look at one case's files.
    if len(sys.argv) == 3 and sys.argv[1] == "--dir":
        out_dir, keep = sys.argv[2], True
    elif len(sys.argv) == 2:
        out_dir, keep = tempfile.mkdtemp(prefix="xgrad-parity-"), False
    else:
        print("usage: run_parity.py PARITY_DRIVER | --dir DRIVER_OUTPUT_DIR")
        return 2
    start = time.time()
    OUT_DIR[0] = out_dir
    try:
        if not keep:
            r = subprocess.run([sys.argv[1], out_dir], capture_output=True, text=True)
            if r.returncode != 0:
                print("parity: the driver failed (status %d): %s%s" % (r.returncode, r.stdout, r.stderr))
                return 1
        with open(os.path.join(out_dir, "manifest.json"), encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        failed, known, fixed = [], [], []
        no_form, max_rel, worst, max_rel_default, worst_default = {}, 0.0, "", 0.0, ""
        ops_ok, ops_all, counts = {}, set(), {}
        for case in cases:
            group, name, label = case["group"], case["name"], case["label"]
            counts[group] = counts.get(group, 0) + 1
            if group in ("op", "op_nan"):
                ops_all.add(name)
            if not case.get("torch"):
                no_form.setdefault(name, []).append(label)
                continue
            tol, _ = OP_TOLERANCE.get(name, (TOL, None)) if group in ("op", "op_nan") else (TOL, None)
            if group == "layer":  # an activation layer inherits its op's tolerance: "CELU 0.5" -> celu
                tol, _ = OP_TOLERANCE.get(name.split()[0].lower(), (TOL, None))
            cmp = Compare(tol)
            if group == "op_nan" and (name, label) in NAN_EXCEPTIONS:
                continue
            if "error" in case and group == "op_nan":
                try:
                    run_op_nan_error(case, cmp)
                except Exception as e:  # noqa: BLE001
                    cmp.problems.append("PyTorch side raised %s: %s" % (type(e).__name__, str(e).splitlines()[0][:300]))
            elif "error" in case:
                cmp.problems.append("xgrad raised: " + case["error"])
            else:
                try:
                    RUNNERS[group](case, read_safetensors(os.path.join(out_dir, case["file"])), cmp)
                except Exception as e:  # noqa: BLE001 (a PyTorch error is a failed case)
                    cmp.problems.append("PyTorch side raised %s: %s" % (type(e).__name__, str(e).splitlines()[0][:300]))
            if cmp.max_rel > max_rel:
                max_rel, worst = cmp.max_rel, "%s %s [%s]" % (group, name, label)
            if tol == TOL and cmp.max_rel > max_rel_default:
                max_rel_default, worst_default = cmp.max_rel, "%s %s [%s]" % (group, name, label)
            key = (name, label)
            ok = not cmp.problems
            if group in ("op", "op_nan"):
                ops_ok[name] = ops_ok.get(name, True) and (ok or key in KNOWN_XGRAD_BUGS)
            line = "%s %s [%s]: %s" % (group, name, label, "; ".join(cmp.problems))
            if key in KNOWN_XGRAD_BUGS:
                if ok:
                    fixed.append("%s %s [%s]" % (group, name, label))
                else:
                    known.append("%s (%s)" % (line, KNOWN_XGRAD_BUGS[key]))
            elif not ok:
                failed.append(line)
        for line in failed:
            print("FAIL " + line)
        for line in known:
            print("known xgrad bug: " + line)
        for line in fixed:
            print("FAIL %s: listed in KNOWN_XGRAD_BUGS but agrees now: remove it from the list" % line)
        unexplained = sorted(n for n in no_form if n not in NO_PYTORCH_FORM)
        for n in sorted(no_form):
            if n in NO_PYTORCH_FORM:
                print("no PyTorch form: %s (%s)" % (n, NO_PYTORCH_FORM[n]))
            else:
                print("FAIL no PyTorch form and not on the exception list: %s (%d cases)" % (n, len(no_form[n])))
        formula = []
        for case in cases:
            if case["group"] == "function" or (case["group"] == "op" and (case.get("torch") or "").startswith("lambda")):
                if case["name"] not in formula:
                    formula.append(case["name"])
        if formula:
            print("no single PyTorch 1.13 function, compared with their formula in torch ops: " + ", ".join(formula))
        for n, (tol, why) in sorted(OP_TOLERANCE.items()):
            print("tolerance %g for %s: %s" % (tol, n, why))
        for (n, lab), why in sorted(NAN_EXCEPTIONS.items()):
            print("not compared with NaN input: %s [%s]: %s" % (n, lab, why))
        for n, why in sorted(NAN_VJP_EXCEPTIONS.items()):
            print("no VJP compared with NaN input for %s: %s" % (n, why))
        for n, why in sorted(NO_TORCH_DOUBLE_BACKWARD.items()):
            print("no double backward compared for %s: %s" % (n, why))
        nfail = len(failed) + len(fixed) + len(unexplained)
        covered = sum(1 for n in ops_all if n not in no_form and ops_ok.get(n))
        print("parity: %d cases, %d of %d ops covered, %d layers/losses, %d optimizers, %d schedulers, "
              "%d tensors compared, max relative error %.3g (%s; %.3g outside the tolerance exceptions: %s), "
              "%d known xgrad bugs, %d failed (%.1f s)" %
              (len(cases), covered, len(ops_all), counts.get("layer", 0) + counts.get("loss", 0) + counts.get("function", 0),
               counts.get("optimizer", 0), counts.get("scheduler", 0), Compare.compared, max_rel, worst,
               max_rel_default, worst_default, len(known), nfail,
               time.time() - start))
        return 1 if nfail else 0
    finally:
        if not keep:
            shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
