#!/usr/bin/python3
"""Re-creates tests/data/safetensors_corpus: small malformed safetensors files and poisoned
optimizer states, each refused by xgrad's loaders with a typed error, and MANIFEST.tsv saying
for each file which loader reads it, the error type and a fragment of the expected message.

usage: /usr/bin/python3 scripts/make_safetensors_corpus.py [OUTPUT_DIR]
(default: tests/data/safetensors_corpus next to this script). Plain struct and json, no torch:
the files are written byte by byte. The test tests/test_safetensors_corpus.cpp replays them.

Loaders (MANIFEST column 2): "tensors" is xg::load_tensors; "module" is Module::load into an
nn::Linear(3, 2) (state: weight [2, 3], bias [2], float32); an optimizer's name ("adam", "sgd",
"lbfgs", ...) is Optimizer::load into that optimizer, with default options, over the Linear's
parameters (state.0 is the weight, state.1 the bias). Each malformed or poisoned file differs
from a valid_* file of the same loader (which must load) in one respect. Error "none" marks
those valid files. The 100 MB header limit is tested in test_serialize.cpp (a sparse file): a
file that large is not committed.
"""
import json
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                          "tests", "data", "safetensors_corpus")
MANIFEST = []


def raw(header: bytes, data: bytes = b"", length=None) -> bytes:
    """8-byte little-endian length (the header's own unless given), header, data."""
    return struct.pack("<Q", len(header) if length is None else length) + header + data


def pad(h: str) -> bytes:
    b = h.encode()
    while (8 + len(b)) % 8:
        b += b" "
    return b


def tensor_file(entries, metadata=None, header_edit=None) -> bytes:
    """entries: (name, dtype, shape, data bytes) laid out in order; header_edit(dict) may change
    the parsed header before it is written (the data stays as laid out)."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, blob in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    if header_edit:
        header_edit(header)
    return raw(pad(json.dumps(header, separators=(",", ":"))), data)


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def f64(*v):
    return struct.pack("<%dd" % len(v), *v)


def i64(*v):
    return struct.pack("<%dq" % len(v), *v)


def emit(name, blob, loader, error, reason):
    assert "\t" not in reason and "\n" not in reason
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(blob)
    MANIFEST.append((name, loader, error, reason))


# ---------------------------------------------------------------- the model's state
W = f32(0.5, -0.25, 0.125, 1.0, -1.5, 2.0)
B = f32(0.75, -0.5)
MODEL = [("weight", "F32", [2, 3], W), ("bias", "F32", [2], B)]
MODEL_META = {"format": "xgrad-state-dict"}


def model(header_edit=None, entries=None, metadata=MODEL_META):
    return tensor_file(entries if entries is not None else MODEL, metadata, header_edit)


def edit(name, field, value):
    def f(h):
        h[name][field] = value
    return f


GOOD = model()
data_start = 8 + struct.unpack("<Q", GOOD[:8])[0]


def form(name, blob, reason, loader="module"):
    emit(name, blob, loader, "IOError", reason)


emit("valid_model.safetensors", GOOD, "module", "none", "")
# truncations at several offsets
form("trunc_empty.safetensors", b"", "header length is missing")
form("trunc_len_3.safetensors", GOOD[:3], "header length is missing")
form("trunc_len_7.safetensors", GOOD[:7], "header length is missing")
form("trunc_header_start.safetensors", GOOD[:9], "runs past the end of the file")
form("trunc_header_mid.safetensors", GOOD[: data_start // 2], "runs past the end of the file")
form("trunc_header_end.safetensors", GOOD[: data_start - 1], "runs past the end of the file")
form("trunc_data_none.safetensors", GOOD[:data_start], "truncated: tensor")
form("trunc_data_mid.safetensors", GOOD[: data_start + 10], "truncated: tensor")
form("trunc_data_last_byte.safetensors", GOOD[:-1], "truncated: tensor 'bias'")
# header length
form("len_beyond_by_one.safetensors", struct.pack("<Q", len(GOOD) - 7) + GOOD[8:], "runs past the end of the file")
form("len_2_pow_63.safetensors", struct.pack("<Q", 1 << 63) + GOOD[8:], "header length 9223372036854775808")
form("len_all_ones.safetensors", b"\xff" * 8 + GOOD[8:], "runs past the end of the file")
form("len_zero.safetensors", struct.pack("<Q", 0) + GOOD[8:], "malformed JSON header at offset 8")
# not JSON, or not an object
form("json_garbage.safetensors", raw(pad("{not json")), "malformed JSON header at offset 8")
form("json_nan_token.safetensors",
     raw(pad('{"weight":{"dtype":"F32","shape":[NaN],"data_offsets":[0,24]}}'), W), "malformed JSON header")
form("json_1e400.safetensors",
     raw(pad('{"weight":{"dtype":"F32","shape":[1e400],"data_offsets":[0,24]}}'), W), "malformed JSON header")
form("json_trailing_text.safetensors", raw(GOOD[8:data_start].rstrip() + b"x", GOOD[data_start:]),
     "malformed JSON header")
form("json_array.safetensors", raw(pad("[1,2,3]")), "is not a JSON object")
form("json_string.safetensors", raw(pad('"weights"')), "is not a JSON object")
form("entry_not_object.safetensors", raw(pad('{"weight":[0,24]}'), W), "tensor 'weight': its entry is not an object")
# dtypes
form("dtype_unknown.safetensors", model(edit("weight", "dtype", "F33")), "invalid dtype 'F33'")
form("dtype_lowercase.safetensors", model(edit("weight", "dtype", "f32")), "invalid dtype 'f32'")
form("dtype_number.safetensors", model(edit("weight", "dtype", 4)), "field 'dtype' is not a string")
form("dtype_unsupported_i16.safetensors", model(edit("weight", "dtype", "I16")), "unsupported dtype I16")
form("bool_byte_2.safetensors", tensor_file([("mask", "BOOL", [3], b"\x01\x00\x02")]),
     "dtype BOOL holds byte 2", loader="tensors")
# offsets
form("offsets_out_of_file.safetensors", model(edit("bias", "data_offsets", [24, 40])), "ends at file offset")
form("offsets_overlap.safetensors", model(edit("bias", "data_offsets", [16, 24])), "overlaps tensor 'weight'")
form("offsets_gap.safetensors", model(edit("bias", "data_offsets", [28, 36])) + b"\0" * 4, "a gap of 4 bytes")
form("offsets_trailing_bytes.safetensors", GOOD + b"\0" * 8, "8 bytes after the last tensor")
form("offsets_reversed.safetensors", model(edit("bias", "data_offsets", [32, 24])), "ends before it begins")
form("offsets_one_value.safetensors", model(edit("bias", "data_offsets", [24])), "not an array of two offsets")
form("offsets_fraction.safetensors", model(edit("bias", "data_offsets", [24, 31.5])), "field 'data_offsets' has offset 31.5")
form("offsets_negative.safetensors", model(edit("weight", "data_offsets", [-24, 0])), "field 'data_offsets' has offset -24")
form("offsets_1e30.safetensors", model(edit("bias", "data_offsets", [24, 1e30])), "field 'data_offsets' has offset 1e+30")
form("offsets_2_pow_64.safetensors",
     raw(pad('{"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,18446744073709551616]}}'), W),
     "field 'data_offsets'")
# names
form("dup_tensor_name.safetensors",
     raw(pad('{"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},'
             '"weight":{"dtype":"F32","shape":[2],"data_offsets":[24,32]}}'), W + B),
     "duplicate tensor name 'weight'")
form("dup_field.safetensors",
     raw(pad('{"weight":{"dtype":"F32","shape":[2,3],"shape":[6],"data_offsets":[0,24]}}'), W),
     "duplicate key 'shape'")
form("empty_name.safetensors", raw(pad('{"":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}'), W), "empty name")
form("missing_dtype.safetensors", model(lambda h: h["weight"].pop("dtype")), "field 'dtype' is missing")
form("missing_offsets.safetensors", model(lambda h: h["bias"].pop("data_offsets")), "field 'data_offsets' is missing")
form("unknown_field.safetensors", model(edit("weight", "crc", 7)), "unknown field 'crc'")
# shapes
form("shape_fraction.safetensors", model(edit("weight", "shape", [2, 3.7])), "field 'shape' has extent 3.7 at axis 1")
form("shape_negative.safetensors", model(edit("weight", "shape", [-2, -3])), "field 'shape' has extent -2 at axis 0")
form("shape_minus_one.safetensors", model(edit("bias", "shape", [-1])), "field 'shape' has extent -1")
form("shape_1e30.safetensors", model(edit("bias", "shape", [1e30])), "field 'shape' has extent 1e+30")
form("shape_2_pow_63.safetensors", model(edit("bias", "shape", [1 << 63])), "extent 9223372036854775808")
form("shape_string.safetensors", model(edit("bias", "shape", ["2"])), "field 'shape' has extent \"2\"")
form("shape_not_array.safetensors", model(edit("weight", "shape", 6)), "field 'shape' is not an array")
form("shape_product_overflow.safetensors", model(edit("weight", "shape", [1 << 32, 1 << 32])), "overflows")
form("shape_bytes_overflow.safetensors", model(edit("weight", "shape", [1 << 62])), "overflows")
form("shape_rank_9.safetensors", model(edit("weight", "shape", [1] * 9)), "9 axes")
form("shape_vs_offsets.safetensors", model(edit("weight", "shape", [2, 4])), "needs 32 bytes")
# metadata
form("metadata_not_object.safetensors", model(metadata=["xgrad-state-dict"]), "__metadata__ is not an object")
form("metadata_number.safetensors", model(metadata={"format": 1}), "__metadata__ entry 'format' is not a string")
form("metadata_dup_key.safetensors",
     raw(pad('{"__metadata__":{"format":"a","format":"b"}}')), "duplicate key 'format'", loader="tensors")
# well formed, but not this model's state
emit("module_missing_bias.safetensors", model(entries=MODEL[:1]), "module", "ValueError", "missing: bias")
emit("module_unexpected.safetensors", model(entries=MODEL + [("extra", "F32", [1], f32(0))]), "module", "ValueError",
     "unexpected: extra")
emit("module_wrong_shape.safetensors", model(entries=[("weight", "F32", [3, 2], W), MODEL[1]]), "module", "ValueError",
     "'weight' has shape [3, 2]")
emit("module_wrong_dtype.safetensors", model(entries=[("weight", "F64", [2, 3], f64(*[0.5] * 6)), MODEL[1]]), "module",
     "ValueError", "'weight' is float64")

# ---------------------------------------------------------------- optimizer states
# Options as xgrad writes them (shortest exact doubles), for default options.
OPTIONS = {
    "SGD": {"dampening": "0", "lr": "0.001", "maximize": "false", "momentum": "0", "nesterov": "false",
            "weight_decay": "0"},
    "Adam": {"amsgrad": "false", "betas": "0.9,0.999", "eps": "1e-08", "lr": "0.001", "maximize": "false",
             "weight_decay": "0"},
    "AdamW": {"amsgrad": "false", "betas": "0.9,0.999", "eps": "1e-08", "lr": "0.001", "maximize": "false",
              "weight_decay": "0.01"},
    "Adamax": {"betas": "0.9,0.999", "eps": "1e-08", "lr": "0.002", "maximize": "false", "weight_decay": "0"},
    "Adagrad": {"eps": "1e-10", "initial_accumulator_value": "0", "lr": "0.01", "lr_decay": "0", "maximize": "false",
                "weight_decay": "0"},
    "RMSprop": {"alpha": "0.99", "centered": "false", "eps": "1e-08", "lr": "0.01", "maximize": "false",
                "momentum": "0", "weight_decay": "0"},
    "NAdam": {"betas": "0.9,0.999", "eps": "1e-08", "lr": "0.002", "momentum_decay": "0.004", "weight_decay": "0"},
    "RAdam": {"betas": "0.9,0.999", "eps": "1e-08", "lr": "0.001", "weight_decay": "0"},
    "Adadelta": {"eps": "1e-06", "lr": "1", "maximize": "false", "rho": "0.9", "weight_decay": "0"},
    "ASGD": {"alpha": "0.75", "lambd": "1e-04", "lr": "0.01", "maximize": "false", "t0": "1e+06",
             "weight_decay": "0"},
    "LBFGS": {"history_size": "100", "line_search_fn": "none", "lr": "1", "max_eval": "none", "max_iter": "20",
              "tolerance_change": "1e-09", "tolerance_grad": "1e-07"},
}
# Per-parameter fields: ("step" int64 scalar | a float64 scalar | a float32 buffer of the
# parameter's shape, its values from `fill`).
FIELDS = {
    "SGD": [("momentum_buffer", "buf")],
    "Adam": [("step", "step"), ("exp_avg", "buf"), ("exp_avg_sq", "pos")],
    "AdamW": [("step", "step"), ("exp_avg", "buf"), ("exp_avg_sq", "pos")],
    "Adamax": [("step", "step"), ("exp_avg", "buf"), ("exp_inf", "pos")],
    "Adagrad": [("step", "step"), ("sum", "pos")],
    "RMSprop": [("step", "step"), ("square_avg", "pos")],
    "NAdam": [("step", "step"), ("mu_product", 0.8), ("exp_avg", "buf"), ("exp_avg_sq", "pos")],
    "RAdam": [("step", "step"), ("exp_avg", "buf"), ("exp_avg_sq", "pos")],
    "Adadelta": [("step", "step"), ("square_avg", "pos"), ("acc_delta", "pos")],
    "ASGD": [("step", "step"), ("eta", 0.01), ("mu", 1.0), ("ax", "buf")],
    "LBFGS": [],
}
SHAPES = [[2, 3], [2]]


def buffer(kind, n, k):
    vals = [(0.01 * (i + 1) + 0.1 * k) * (1 if kind == "pos" or i % 2 == 0 else -1) for i in range(n)]
    return f32(*vals)


def opt_entries(name):
    """The tensors of a valid state after 3 steps: a list of [key, dtype, shape, bytes]."""
    out = []
    for k, shape in enumerate(SHAPES):
        n = 1
        for d in shape:
            n *= d
        for field, kind in FIELDS[name]:
            key = "state.%d.%s" % (k, field)
            if kind == "step":
                out.append([key, "I64", [], i64(3)])
            elif isinstance(kind, float):
                out.append([key, "F64", [], f64(kind)])
            else:
                out.append([key, "F32", shape, buffer(kind, n, k)])
    if name == "LBFGS":
        dirs = [0.01 * (i + 1) for i in range(16)]
        stps = [0.02 * (i + 1) for i in range(16)]
        # ro = 1 / yᵀs of each pair (y in old_dirs, s in old_stps), as the loader checks
        ro = [1.0 / sum(dirs[8 * r + i] * stps[8 * r + i] for i in range(8)) for r in range(2)]
        out += [["lbfgs.d", "F64", [8], f64(*[0.1 * i - 0.3 for i in range(8)])],
                ["lbfgs.prev_flat_grad", "F64", [8], f64(*[0.05 * i for i in range(8)])],
                ["lbfgs.old_dirs", "F64", [2, 8], f64(*dirs)],
                ["lbfgs.old_stps", "F64", [2, 8], f64(*stps)],
                ["lbfgs.ro", "F64", [2], f64(*ro)]]
    return out


def opt_meta(name):
    meta = {"format": "xgrad-optimizer", "optimizer": name, "param_groups": "1", "group.0.params": "2"}
    for k, v in OPTIONS[name].items():
        meta["group.0." + k] = v
    if name == "LBFGS":
        meta.update({"lbfgs.H_diag": "0.03125", "lbfgs.func_evals": "3", "lbfgs.history": "2", "lbfgs.n_iter": "3",
                     "lbfgs.prev_loss": "0.5", "lbfgs.t": "1"})
    return meta


def opt_file(name, entries=None, meta=None):
    return tensor_file([tuple(e) for e in (entries if entries is not None else opt_entries(name))],
                       meta if meta is not None else opt_meta(name))


def set_entry(name, key, dtype=None, shape=None, blob=None, entries=None):
    es = entries if entries is not None else opt_entries(name)
    for e in es:
        if e[0] == key:
            if dtype is not None:
                e[1] = dtype
            if shape is not None:
                e[2] = shape
            if blob is not None:
                e[3] = blob
            return es
    raise KeyError(key)


def poke(name, key, value):
    """The entry with its first element replaced by value (in its own dtype)."""
    es = opt_entries(name)
    for e in es:
        if e[0] == key:
            fmt = {"F32": "<f", "F64": "<d", "I64": "<q"}[e[1]]
            e[3] = struct.pack(fmt, value) + e[3][struct.calcsize(fmt):]
            return es
    raise KeyError(key)


def with_meta(name, **kv):
    m = opt_meta(name)
    for k, v in kv.items():
        k = k.replace("__", ".")
        if v is None:
            m.pop(k)
        else:
            m[k] = v
    return m


def poisoned(fname, name, reason, entries=None, meta=None, error="ValueError"):
    emit(fname, opt_file(name, entries, meta), name.lower(), error, reason)


NAN, INF = float("nan"), float("inf")
for name in OPTIONS:
    emit("valid_%s.safetensors" % name.lower(), opt_file(name), name.lower(), "none", "")

# Adam: each class of poison
poisoned("adam_step_minus_1.safetensors", "Adam", "'state.0.step' is -1", poke("Adam", "state.0.step", -1))
poisoned("adam_step_fraction.safetensors", "Adam", "'state.1.step' is 2.5, not a whole number",
         set_entry("Adam", "state.1.step", "F64", [], f64(2.5)))
poisoned("adam_step_huge_float.safetensors", "Adam", "'state.0.step' is 1e+30, not a whole number",
         set_entry("Adam", "state.0.step", "F64", [], f64(1e30)))
poisoned("adam_exp_avg_nan.safetensors", "Adam", "'state.0.exp_avg' holds nan at element 0",
         poke("Adam", "state.0.exp_avg", NAN))
poisoned("adam_exp_avg_inf.safetensors", "Adam", "'state.1.exp_avg' holds inf", poke("Adam", "state.1.exp_avg", INF))
poisoned("adam_exp_avg_sq_negative.safetensors", "Adam", "'state.0.exp_avg_sq' holds -0.5 at element 0",
         poke("Adam", "state.0.exp_avg_sq", -0.5))
poisoned("adam_missing_exp_avg_sq.safetensors", "Adam", "has no entry 'state.1.exp_avg_sq'",
         [e for e in opt_entries("Adam") if e[0] != "state.1.exp_avg_sq"])
poisoned("adam_missing_step.safetensors", "Adam", "has no entry 'state.0.step'",
         [e for e in opt_entries("Adam") if e[0] != "state.0.step"])
poisoned("adam_extra_field.safetensors", "Adam", "'state.0.bogus' is not a field of Adam's state",
         opt_entries("Adam") + [["state.0.bogus", "F32", [2, 3], W]])
poisoned("adam_extra_tensor.safetensors", "Adam", "unexpected entry 'junk'", opt_entries("Adam") + [["junk", "F32", [2], B]])
poisoned("adam_index_out_of_range.safetensors", "Adam", "'state.2.step' names no parameter",
         opt_entries("Adam") + [["state.2.step", "I64", [], i64(1)]])
poisoned("adam_index_malformed.safetensors", "Adam", "'state.x.step' is not state.<index>.<field>",
         opt_entries("Adam") + [["state.x.step", "I64", [], i64(1)]])
poisoned("adam_wrong_shape.safetensors", "Adam", "'state.0.exp_avg' has shape [3, 2]",
         set_entry("Adam", "state.0.exp_avg", shape=[3, 2]), error="ShapeError")
poisoned("adam_int_buffer.safetensors", "Adam", "'state.1.exp_avg' is int64, expected a float tensor",
         set_entry("Adam", "state.1.exp_avg", "I64", [2], i64(1, 2)), error="TypeError")
poisoned("adam_lr_inf.safetensors", "Adam", "group.0.lr = inf (must be finite)", meta=with_meta("Adam", group__0__lr="inf"))
poisoned("adam_lr_negative.safetensors", "Adam", "invalid lr = -0.001", meta=with_meta("Adam", group__0__lr="-0.001"))
poisoned("adam_beta1_one.safetensors", "Adam", "invalid betas[0] = 1", meta=with_meta("Adam", group__0__betas="1,0.999"))
poisoned("adam_eps_nan.safetensors", "Adam", "group.0.eps = nan", meta=with_meta("Adam", group__0__eps="nan"))
poisoned("adam_weight_decay_negative.safetensors", "Adam", "invalid weight_decay = -1",
         meta=with_meta("Adam", group__0__weight_decay="-1"))
poisoned("adam_betas_one_value.safetensors", "Adam", "cannot read '0.9' as two numbers",
         meta=with_meta("Adam", group__0__betas="0.9"))
poisoned("adam_option_missing.safetensors", "Adam", "has no entry 'group.0.eps'", meta=with_meta("Adam", group__0__eps=None))
poisoned("adam_two_groups.safetensors", "Adam", "the state has 2 parameter groups", meta=with_meta("Adam", param_groups="2"))
poisoned("adam_three_params.safetensors", "Adam", "group 0 has 3 parameters in the state",
         meta=with_meta("Adam", group__0__params="3"))
poisoned("adam_not_optimizer_state.safetensors", "Adam", "not an optimizer state",
         meta=with_meta("Adam", format="xgrad-state-dict"))
poisoned("adam_format_missing.safetensors", "Adam", "has no entry 'format'", meta=with_meta("Adam", format=None))
emit("adam_file_of_sgd.safetensors", opt_file("SGD"), "adam", "ValueError", "the state is of a SGD optimizer, not Adam")
# the other optimizers: their second moments, accumulators and running values
poisoned("adamw_exp_avg_sq_negative.safetensors", "AdamW", "'state.1.exp_avg_sq' holds -0.5",
         poke("AdamW", "state.1.exp_avg_sq", -0.5))
poisoned("sgd_momentum_buffer_nan.safetensors", "SGD", "'state.0.momentum_buffer' holds nan",
         poke("SGD", "state.0.momentum_buffer", NAN))
poisoned("sgd_momentum_negative.safetensors", "SGD", "invalid momentum = -0.9", meta=with_meta("SGD", group__0__momentum="-0.9"))
poisoned("adamax_exp_inf_negative.safetensors", "Adamax", "'state.0.exp_inf' holds -2", poke("Adamax", "state.0.exp_inf", -2))
poisoned("adagrad_sum_negative.safetensors", "Adagrad", "'state.1.sum' holds -1", poke("Adagrad", "state.1.sum", -1))
poisoned("adagrad_step_minus_1.safetensors", "Adagrad", "'state.1.step' is -1", poke("Adagrad", "state.1.step", -1))
poisoned("rmsprop_square_avg_negative.safetensors", "RMSprop", "'state.0.square_avg' holds -1",
         poke("RMSprop", "state.0.square_avg", -1))
poisoned("rmsprop_alpha_inf.safetensors", "RMSprop", "group.0.alpha = inf", meta=with_meta("RMSprop", group__0__alpha="inf"))
poisoned("nadam_mu_product_2.safetensors", "NAdam", "'state.0.mu_product' is 2 (must be in [0, 1])",
         poke("NAdam", "state.0.mu_product", 2.0))
poisoned("nadam_exp_avg_sq_negative.safetensors", "NAdam", "'state.1.exp_avg_sq' holds -0.5",
         poke("NAdam", "state.1.exp_avg_sq", -0.5))
poisoned("radam_exp_avg_sq_negative.safetensors", "RAdam", "'state.0.exp_avg_sq' holds -0.5",
         poke("RAdam", "state.0.exp_avg_sq", -0.5))
poisoned("adadelta_acc_delta_negative.safetensors", "Adadelta", "'state.1.acc_delta' holds -1",
         poke("Adadelta", "state.1.acc_delta", -1))
poisoned("adadelta_rho_above_one.safetensors", "Adadelta", "invalid rho = 1.5", meta=with_meta("Adadelta", group__0__rho="1.5"))
poisoned("asgd_mu_2.safetensors", "ASGD", "'state.0.mu' is 2 (must be in [0, 1])", poke("ASGD", "state.0.mu", 2.0))
poisoned("asgd_eta_nan.safetensors", "ASGD", "'state.1.eta' is nan", poke("ASGD", "state.1.eta", NAN))
poisoned("asgd_ax_inf.safetensors", "ASGD", "'state.0.ax' holds -inf", poke("ASGD", "state.0.ax", -INF))
poisoned("lbfgs_no_direction.safetensors", "LBFGS", "has no entry 'lbfgs.d'",
         [e for e in opt_entries("LBFGS") if e[0] != "lbfgs.d"])
poisoned("lbfgs_history_above_size.safetensors", "LBFGS", "'lbfgs.history' is 101",
         meta=with_meta("LBFGS", lbfgs__history="101"))
poisoned("lbfgs_ro_negative.safetensors", "LBFGS", "'lbfgs.ro' is -1 at element 0", poke("LBFGS", "lbfgs.ro", -1.0))
poisoned("lbfgs_h_diag_negative.safetensors", "LBFGS", "'lbfgs.H_diag' is -1", meta=with_meta("LBFGS", lbfgs__H_diag="-1"))
poisoned("lbfgs_n_iter_negative.safetensors", "LBFGS", "'lbfgs.n_iter' is -1", meta=with_meta("LBFGS", lbfgs__n_iter="-1"))
poisoned("lbfgs_old_dirs_nan.safetensors", "LBFGS", "'lbfgs.old_dirs' is nan at element 0",
         poke("LBFGS", "lbfgs.old_dirs", NAN))
poisoned("lbfgs_pair_changed.safetensors", "LBFGS", "not 1 / yᵀs of its pair", poke("LBFGS", "lbfgs.old_dirs", 7.6e286))
poisoned("lbfgs_direction_wrong_shape.safetensors", "LBFGS", "'lbfgs.d' has shape [7]",
         set_entry("LBFGS", "lbfgs.d", shape=[7], blob=f64(*[0.0] * 7)), error="ShapeError")

if __name__ == "__main__":
    names = sorted(m[0] for m in MANIFEST)
    assert len(names) == len(set(names)), "duplicate corpus file names"
    stale = set(f for f in os.listdir(OUT) if f.endswith(".safetensors")) - set(names)
    for f in stale:
        os.remove(os.path.join(OUT, f))
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write("# file\tloader\terror\treason (made by scripts/make_safetensors_corpus.py)\n")
        for m in MANIFEST:
            f.write("\t".join(m) + "\n")
    print("%d files (%d valid) in %s" % (len(MANIFEST), sum(m[2] == "none" for m in MANIFEST), os.path.normpath(OUT)))
