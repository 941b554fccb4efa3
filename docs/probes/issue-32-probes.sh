#!/usr/bin/env bash
# Issue 32's command-line probes, each printed with its exit code and what it printed last.
# Run from the repository root after a build: bash docs/probes/issue-32-probes.sh [data archive]
set -uo pipefail
data=${1:-../shared/data/cifar10-jpg.tar.gz}
w=$(mktemp -d)
small=(--train-limit 64 --test-limit 32 --no-progress)
# the size of the probes' runs; a probe of one of these three gives all three itself
sz=(--width 0.125 --batch 32 --epochs 1)
probe() { # name, command...
  local name=$1
  shift
  "$@" >"$w/out" 2>&1
  local rc=$?
  printf '%-44s exit %d: %s\n' "$name" "$rc" "$(grep -v '^\s*$' "$w/out" | tail -1 | cut -c1-230)"
}
ck=(--checkpoint "$w/c.ckpt" --metrics "$w/m.csv")
head -c 100000 "$data" >"$w/trunc.tar.gz"

echo "== files"
./anode train --data "$data" "${small[@]}" "${sz[@]}" "${ck[@]}" >/dev/null 2>&1
sum_before=$(md5sum <"$w/c.ckpt")
probe "spark --overwrite, truncated --data" ./anode train --workers 2 --data "$w/trunc.tar.gz" "${small[@]}" "${sz[@]}" "${ck[@]}" --overwrite
echo "   checkpoint unchanged: $([ "$sum_before" = "$(md5sum <"$w/c.ckpt")" ] && echo yes || echo NO)"
probe "spark --overwrite --lr 1e6" ./anode train --workers 2 --data "$data" "${small[@]}" --width 0.125 --batch 32 "${ck[@]}" --overwrite --lr 1e6 --epochs 2
echo "   checkpoint unchanged: $([ "$sum_before" = "$(md5sum <"$w/c.ckpt")" ] && echo yes || echo NO)"
probe "spark --resume --optimizer adam (sgd ckpt)" ./anode train --workers 2 --data "$data" "${small[@]}" --width 0.125 --batch 32 "${ck[@]}" --resume --optimizer adam --epochs 2
probe "spark --resume --width 0.25" ./anode train --workers 2 --data "$data" "${small[@]}" --batch 32 "${ck[@]}" --resume --width 0.25 --epochs 2
echo "someone else's" >"$w/other.csv"
probe "--metrics <unrelated file>" ./anode train --data "$data" "${small[@]}" "${sz[@]}" --checkpoint "$w/new.ckpt" --metrics "$w/other.csv"
echo "   file unchanged: $(cat "$w/other.csv")"
probe "--time-budget 0, existing metrics" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${ck[@]}" --overwrite --time-budget 0
probe "--checkpoint f --metrics f" ./anode train --data "$data" "${small[@]}" "${sz[@]}" --checkpoint "$w/f" --metrics "$w/f"
probe "--checkpoint /dev/null --overwrite" ./anode train --data "$data" "${small[@]}" "${sz[@]}" --checkpoint /dev/null --metrics "$w/x.csv" --overwrite
mkdir -p "$w/dir"
probe "--overwrite onto a directory" ./anode train --data "$data" "${small[@]}" "${sz[@]}" --checkpoint "$w/dir" --metrics "$w/y.csv" --overwrite

echo "== bad input"
fresh=(--checkpoint "$w/n.ckpt" --metrics "$w/n.csv")
probe "--width 1e9" ./anode train --data "$data" "${small[@]}" --batch 32 --epochs 1 "${fresh[@]}" --width 1e9
probe "--time-budget 3000000h" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --time-budget 3000000h
probe "--time-budget 40s --lr 1e6" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --time-budget 40s --lr 1e6
rm -f "$w/n.ckpt" "$w/n.csv"
probe "--time-budget 1s" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --time-budget 1s
rm -f "$w/n.ckpt" "$w/n.csv"
probe "--time-budget 0" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --time-budget 0
probe "--threads 10000" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --threads 10000
probe "--workers 64" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --workers 64
probe "--nt 100000" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --nt 100000
probe "--batch 100000 on 64 images" ./anode train --data "$data" "${small[@]}" --width 0.125 --epochs 1 "${fresh[@]}" --batch 100000
rm -f "$w/n.ckpt" "$w/n.csv"
probe "--spark-master nosuch://x" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --workers 2 --spark-master nosuch://x
probe "--spark-master spark://127.0.0.1:1" ./anode train --data "$data" "${small[@]}" "${sz[@]}" "${fresh[@]}" --workers 2 --spark-master spark://127.0.0.1:1

echo "== data"
mkdir -p "$w/u/train/café" "$w/u/train/cafè" "$w/u/test/café" "$w/u/test/cafè"
tar -xzf "$data" -C "$w" cifar10/train/cat/0001.jpg cifar10/train/dog/0001.jpg cifar10/test/cat/0001.jpg cifar10/test/dog/0001.jpg 2>/dev/null
for s in train test; do
  cp "$w"/cifar10/$s/cat/*.jpg "$w/u/$s/café/"
  cp "$w"/cifar10/$s/dog/*.jpg "$w/u/$s/cafè/"
done
tar -czf "$w/u.tar.gz" -C "$w/u" train test
probe "LANG=C, non-ASCII classes (archive)" env LANG=C LC_ALL=C ./anode train --data "$w/u.tar.gz" --dataset cifar10 --width 0.125 --epochs 1 --no-progress --checkpoint "$w/u.ckpt" --metrics "$w/u.csv"
probe "LANG=C, non-ASCII classes (folder)" env LANG=C LC_ALL=C ./anode train --data "$w/u" --dataset cifar10 --width 0.125 --epochs 1 --no-progress --checkpoint "$w/u2.ckpt" --metrics "$w/u2.csv"
rm -rf "$w"
