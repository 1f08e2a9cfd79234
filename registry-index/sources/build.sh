#!/usr/bin/env bash
# Rebuild mlpm's offline starter models and publish them into registry-index/.
# Run from the repository root:  registry-index/sources/build.sh
# Trains into a temporary directory (deterministic, CPU, about two minutes: train.py,
# then train_family.py), then publishes every package directory in version order, each
# package after the packages it depends on (digits before digits-calibrator, digits-tf
# before digits-head), so mlpm's semver checks see each release in turn.
set -euo pipefail

cd "$(dirname "$0")/../.."
python=.venv/bin/python
mlpm=.venv/bin/mlpm

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$python" registry-index/sources/digits/train.py "$out"
"$python" registry-index/sources/digits/train_family.py "$out"

for name in digits digits-calibrator digits-small digits-large digits-tf digits-head digits-hub; do
    # "digits-[0-9]*" does not match "digits-calibrator-*"; sort -V orders 1.2.0 < 1.10.0.
    while IFS= read -r d; do
        echo "publishing $(basename "$d")"
        "$mlpm" publish "$d" --registry registry-index
    done < <(find "$out" -mindepth 1 -maxdepth 1 -type d -name "$name-[0-9]*" | sort -V)
done
