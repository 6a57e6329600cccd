#!/usr/bin/env bash
# Runs each small example (tests/meson.build passes the built executables) with a tiny budget
# and checks it learned: the first printed loss is above the last, plus each example's success line.
set -u
fail=0
scratch=$(mktemp -d)  # files the examples write (plots, unet_autoencoder's PNG)
trap 'rm -rf "$scratch"' EXIT
for exe in "$@"; do
  name=$(basename "$exe")
  noloss=0  # a program that trains nothing: its exit status and success line only
  case "$name" in
    xor) args=(--steps 2000); want='predictions correct: 4/4' ;;
    custom_op) args=(--steps 100); want='gradcheck passed' ;;
    save_and_resume) args=(--steps 20); want='identical' ;;
    sine_lstm) args=(--steps 30); want='continued 8 values' ;;
    fashion_mlp) args=(--limit 2000 --epochs 1); want='test accuracy' ;;
    fashion_cnn) args=(--limit 300 --epochs 1); want='test accuracy' ;;
    housing_regression) args=(--epochs 20 --out "$scratch/housing"); want='test MSE' ;;
    vanishing_gradients) args=(--steps 20); want='at step 20, first-layer gradient norm: sigmoid'; noloss=1 ;;
    overfitting) args=(--epochs 2 --train 200); want='early_stopping'; noloss=1 ;;
    optimizers) args=(--steps 100); want='Adam' ;;
    resnet_fashion) args=(--limit 320 --epochs 1 --width 4); want='test accuracy' ;;
    unet_autoencoder) args=(--limit 320 --epochs 1 --width 4 --png "$scratch/unet.png"); want='wrote .*unet.png' ;;
    tiny_gpt) args=(--steps 20 --context 16 --embed 16 --heads 2 --layers 1 --chars 40); want='sample (seed 1234)' ;;
    verify_model) args=(); want="step 1 'hand_linear'(input, fc1.weight, fc1.bias)"; noloss=1 ;;
    *) args=(--steps 20); want='' ;;
  esac
  # A mistyped option stops the program (status 2, naming it) instead of running with defaults.
  if [ "$name" != verify_model ]; then
    bad=$(timeout 30 "$exe" --no-such-option 1 2>&1); rc=$?
    if [ "$rc" != 2 ] || ! echo "$bad" | grep -qF "unknown option '--no-such-option'"; then
      echo "FAIL $name: --no-such-option gave status $rc: $bad"; fail=1; continue
    fi
  fi
  if ! out=$(timeout 30 "$exe" "${args[@]}" 2>&1); then
    echo "FAIL $name: exited non-zero"; echo "$out" | tail -5; fail=1; continue
  fi
  if [ "$noloss" = 1 ]; then
    if echo "$out" | grep -qF "$want"; then echo "ok   $name: '$want'"; else
      echo "FAIL $name: missing '$want'"; echo "$out" | tail -5; fail=1; fi
    continue
  fi
  losses=$(echo "$out" | grep -o 'loss [0-9.eE+-]*' | awk '{print $2}')
  first=$(echo "$losses" | head -1); last=$(echo "$losses" | tail -1)
  if [ -z "$first" ]; then
    echo "FAIL $name: printed no 'loss <value>' line"; echo "$out" | tail -5; fail=1; continue
  fi
  if ! awk -v a="$first" -v b="$last" 'BEGIN{exit !(b < a)}'; then
    echo "FAIL $name: loss did not fall ($first -> $last)"; fail=1; continue
  fi
  if [ -n "$want" ] && ! echo "$out" | grep -q "$want"; then
    echo "FAIL $name: missing '$want'"; echo "$out" | tail -5; fail=1; continue
  fi
  echo "ok   $name: loss $first -> $last${want:+, '$want'}"
done
exit $fail
