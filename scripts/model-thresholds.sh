#!/usr/bin/env bash
# Where should the risk model's threshold sit? For each labelled set given, classifies it
# once with `--model-scores` and prints micro-F1 / critical recall / false alarms on
# flag-free messages at each threshold (THRESHOLDS env, default 0.1 to 0.3), then the same
# over all sets together. Only meaningful on sets the model was not trained on.
#   scripts/model-thresholds.sh Eval/probe-k.jsonl
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
escucha="${ESCUCHA:-$here/.build/release/escucha}"
config="${CONFIG_DIR:-$here/Config}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
pairs=()
for set in "$@"; do
    out="$work/$(basename "$set").out"
    "$escucha" classify --config-dir "$config" --model-scores --file "$set" > "$out"
    pairs+=("$set=$out")
done
THRESHOLDS="${THRESHOLDS:-0.1 0.15 0.2 0.25 0.3}" python3 - "${pairs[@]}" <<'PY'
import json, os, sys
critical = {"protection.gbv", "protection.trafficking", "protection.child_at_risk",
            "protection.self_harm", "protection.medical_emergency", "misconduct.sexual_exploitation"}
thresholds = [float(t) for t in os.environ["THRESHOLDS"].split()]

def rows(gold_path, out_path):
    gold = {}
    for line in open(gold_path):
        if line.strip():
            item = json.loads(line)
            gold[item["id"]] = set(item["flags"])
    for line in open(out_path):
        result = json.loads(line)
        lexicons = {e["flag"] for e in result["evidence"] if not e["entry"].startswith("model:")}
        yield gold[result["id"]], lexicons, result.get("model_scores", {})

def score(items, threshold):
    tp = fp = fn = ctp = cfn = alarms = free = 0
    for gold, lexicons, scores in items:
        predicted = lexicons | {flag for flag, p in scores.items() if p > threshold}
        tp += len(predicted & gold); fp += len(predicted - gold); fn += len(gold - predicted)
        ctp += len(predicted & gold & critical); cfn += len((gold - predicted) & critical)
        if not gold:
            free += 1; alarms += bool(predicted)
    precision = tp / max(1, tp + fp); recall = tp / max(1, tp + fn)
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    return f"{f1:.3f} / {ctp / max(1, ctp + cfn):.3f} / {100 * alarms / max(1, free):.1f} %"

sets = [(pair.split("=", 1)[0], list(rows(*pair.split("=", 1)))) for pair in sys.argv[1:]]
if len(sets) > 1:
    sets.append(("all", [row for _, items in sets for row in items]))
print("micro-F1 / critical recall / false alarms on flag-free messages")
print("| set | " + " | ".join(f"{t:g}" for t in thresholds) + " |")
print("|---|" + "---|" * len(thresholds))
for name, items in sets:
    print(f"| {os.path.basename(name)} | " + " | ".join(score(items, t) for t in thresholds) + " |")
PY
