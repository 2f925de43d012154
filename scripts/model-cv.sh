#!/usr/bin/env bash
# Leave-one-set-out measurement of the risk model: for each labelled set given, train on
# the others (and the shared development set), then `escucha eval` the held-out set with the
# current lexicons. Prints one line a set: micro-F1, critical recall, false alarms, type
# accuracy and sector F1 (the model learns types and sectors from the labelled sets only).
# Extra `model train` options go in MODEL_ARGS, e.g. MODEL_ARGS="--l2 0.01 --threshold 0.15".
# The lexicons' examples are left out (--no-lexicon-examples) unless WITH_LEXICON_EXAMPLES=1:
# they were written from the probe sets' misses, so training on them would leak the held-out
# set into its own model.
#   scripts/model-cv.sh Eval/probe-a.jsonl Eval/probe-b.jsonl Eval/probe-c.jsonl
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
escucha="${ESCUCHA:-$here/.build/release/escucha}"
dev="${DEV_SET:-$here/../shared/eval/dev.jsonl}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/Config" "$work/config"
examples=--no-lexicon-examples
[ "${WITH_LEXICON_EXAMPLES:-}" = 1 ] && examples=--lexicon-examples
for held in "$@"; do
    training=("$dev")
    for other in "$@"; do [ "$other" != "$held" ] && training+=("$other"); done
    # shellcheck disable=SC2086
    "$escucha" model train --config-dir "$work/config" ${MODEL_ARGS:-} "$examples" --out "$work/config/model/risk.json" "${training[@]}" >/dev/null
    "$escucha" eval --config-dir "$work/config" --quiet "$held" | awk -v set="$(basename "$held")" '
        /^micro:/ { f1 = $NF }
        /^critical-flag recall:/ { crit = $NF }
        /^false alarms on flag-free/ { fa = $(NF-2) " = " $NF }
        /^type accuracy:/ { type = $NF }
        /^sector micro:/ { sectors = $NF }
        END { printf "%-18s F1 %s  critical recall %s  false alarms %s  type %s  sectors F1 %s\n", set, f1, crit, fa, type, sectors }'
done
