#!/usr/bin/env bash
# xgrad-train end to end on a small slice of Fashion-MNIST:
#  - a run interrupted after epoch 1 and resumed ends with exactly the numbers of an uninterrupted run;
#  - the loss falls; a checkpoint of the wrong model gives one clear line; a missing data dir too;
#  - an empty dataset is refused, naming the file.
set -u
train=$1
tmp=$(mktemp -d /tmp/xg-train-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
passed=0

"$train" --model mlp --epochs 3 --limit 600 --out "$tmp/a" --quiet > "$tmp/a.log" 2>&1 || fail "uninterrupted run: $(cat "$tmp/a.log")"
"$train" --model mlp --epochs 3 --stop-after 1 --limit 600 --out "$tmp/b" --quiet > "$tmp/b1.log" 2>&1 || fail "first part: $(cat "$tmp/b1.log")"
"$train" --model mlp --epochs 3 --limit 600 --out "$tmp/b" --quiet --resume "$tmp/b/mlp/checkpoint.safetensors" > "$tmp/b2.log" 2>&1 ||
  fail "resumed part: $(cat "$tmp/b2.log")"
# the curves hold every number of every epoch (losses and accuracy, full precision); seconds differ
cut -d, -f1-4 "$tmp/a/mlp/curves.csv" > "$tmp/a.csv"
cut -d, -f1-4 "$tmp/b/mlp/curves.csv" > "$tmp/b.csv"
[ "$(wc -l < "$tmp/a.csv")" -eq 4 ] || fail "expected 3 epochs in the curves, got: $(cat "$tmp/a.csv")"
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "resumed run differs from the uninterrupted one:
$(diff "$tmp/a.csv" "$tmp/b.csv")"
passed=$((passed + 1))

# The CNN's recipe, with crops as well as flips: both draw from the generator the checkpoint saves; the
# one-cycle schedule, stepped per batch, resumes mid-run.
"$train" --model cnn --epochs 2 --limit 300 --threads 1 --augment crop,flip --out "$tmp/ca" --quiet > "$tmp/ca.log" 2>&1 || fail "cnn run: $(cat "$tmp/ca.log")"
grep -q "onecycle.*augment crop,flip" "$tmp/ca.log" || fail "cnn: not its recipe: $(cat "$tmp/ca.log")"
"$train" --model cnn --epochs 2 --stop-after 1 --limit 300 --threads 1 --augment crop,flip --out "$tmp/cb" --quiet > "$tmp/cb1.log" 2>&1 || fail "cnn first part: $(cat "$tmp/cb1.log")"
"$train" --model cnn --epochs 2 --limit 300 --threads 1 --augment crop,flip --out "$tmp/cb" --quiet --resume "$tmp/cb/cnn/checkpoint.safetensors" > "$tmp/cb2.log" 2>&1 ||
  fail "cnn resumed part: $(cat "$tmp/cb2.log")"
cmp -s <(cut -d, -f1-4 "$tmp/ca/cnn/curves.csv") <(cut -d, -f1-4 "$tmp/cb/cnn/curves.csv") || fail "resumed cnn run differs:
$(diff "$tmp/ca/cnn/curves.csv" "$tmp/cb/cnn/curves.csv")"
grep -Eq "of training: [0-9.]+ minutes, [0-9.]+ s per epoch" "$tmp/ca.log" || fail "no minutes of training: $(cat "$tmp/ca.log")"
passed=$((passed + 1))

first=$(sed -n 2p "$tmp/a.csv" | cut -d, -f2)
last=$(sed -n 4p "$tmp/a.csv" | cut -d, -f2)
python3 -c "import sys; sys.exit(0 if float('$last') < 0.8 * float('$first') else 1)" || fail "the training loss did not fall: $first -> $last"
passed=$((passed + 1))

out=$("$train" --model cnn --epochs 2 --limit 100 --out "$tmp/c" --quiet --resume "$tmp/a/mlp/checkpoint.safetensors" 2>&1) && fail "a checkpoint of the wrong model was accepted"
[ "$(echo "$out" | grep -c .)" -eq 1 ] || fail "expected one line for the wrong checkpoint, got: $out"
echo "$out" | grep -q "holds a 'mlp' model, not 'cnn'" || fail "unclear wrong-model message: $out"
passed=$((passed + 1))

out=$("$train" --model mlp --data /nonexistent/fashion --quiet --out "$tmp/d" 2>&1) && fail "a missing data directory was accepted"
echo "$out" | grep -q "dataset-fashion-mnist" || fail "the missing-data message does not name the package: $out"
passed=$((passed + 1))

# An empty dataset (IDX files declaring 0 images and 0 labels): refused naming the file, never a
# run that trains on nothing and prints "train loss -nan".
mkdir -p "$tmp/empty"
for set in train t10k; do
  printf '\x00\x00\x08\x03\x00\x00\x00\x00\x00\x00\x00\x1c\x00\x00\x00\x1c' > "$tmp/empty/$set-images-idx3-ubyte"
  printf '\x00\x00\x08\x01\x00\x00\x00\x00' > "$tmp/empty/$set-labels-idx1-ubyte"
done
out=$("$train" --model mlp --epochs 1 --data "$tmp/empty" --quiet --out "$tmp/e" 2>&1) && fail "an empty dataset was accepted: $out"
echo "$out" | grep -q "$tmp/empty/train-images-idx3-ubyte'.*holds no images" || fail "the empty-dataset message does not name the file: $out"
echo "$out" | grep -qi "nan" && fail "the empty dataset printed a NaN: $out"
passed=$((passed + 1))

# a checkpoint whose epoch is not a number: one clear line (std::stoi read '1x' as 1, and 'x' aborted)
python3 - "$tmp/a/mlp/checkpoint.safetensors" "$tmp/bad.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
h["__metadata__"]["xgrad.epoch"] = "1x"
b = json.dumps(h).encode()
b += b" " * (-(8 + len(b)) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(b)) + b + raw[8 + n:])
PY
out=$("$train" --model mlp --epochs 3 --limit 600 --out "$tmp/e" --quiet --resume "$tmp/bad.safetensors" 2>&1)
[ $? -eq 1 ] || fail "a checkpoint with a malformed epoch did not exit 1: $out"
echo "$out" | grep -q "xgrad.epoch '1x' is not an epoch count" || fail "unclear malformed-epoch message: $out"
passed=$((passed + 1))

grep -q "<polyline" "$tmp/a/mlp/curves.svg" || fail "no curve in the SVG plot"
passed=$((passed + 1))

# the validation split (10% of the 600 by default) chooses the epoch; the test set is read once, at
# the end, and the resumed run measures the same model; another split cannot resume this run
grep -q "^training mlp on 540 examples (validation 60, test 600)" "$tmp/a.log" || fail "no validation split: $(head -1 "$tmp/a.log")"
grep -q "^the model of epoch [123], chosen on the validation split" "$tmp/a.log" || fail "no chosen epoch: $(cat "$tmp/a.log")"
[ "$(grep '^test accuracy' "$tmp/a.log" | cut -d' ' -f1-3)" = "$(grep '^test accuracy' "$tmp/b2.log" | cut -d' ' -f1-3)" ] ||
  fail "the resumed run's test accuracy differs: $(grep '^test accuracy' "$tmp/a.log" "$tmp/b2.log")"
out=$("$train" --model mlp --epochs 3 --limit 600 --val-fraction 0.2 --out "$tmp/f" --quiet --resume "$tmp/b/mlp/checkpoint.safetensors" 2>&1) &&
  fail "a checkpoint of another validation split was accepted"
echo "$out" | grep -q "validation split '0.1 0'" || fail "unclear split message: $out"
passed=$((passed + 1))
echo "train_resume: $passed checks passed"
