#!/usr/bin/env bash
# Where should the risk model's threshold sit? For each labelled set given, classifies it
# once with `--model-scores` and prints micro-F1 / critical recall / false alarms on
# flag-free messages at each threshold (THRESHOLDS env, default 0.1 to 0.3 with the shipped
# one), then the same over all sets together. Each column applies that one threshold to
# every flag that has no threshold of its own (the critical flags; the others keep the
# model's --other-threshold, and its veto of unlikely lexicon flags applies) and keeps the
# model file's short-message rule (a message of fewer words than it names needs its
# probability); SHORT_WORDS and SHORT_THRESHOLD override the rule. Only meaningful on sets
# the model was not trained on.
#   scripts/model-thresholds.sh Eval/probe-k.jsonl
set -euo pipefail
if [ $# -eq 0 ]; then
    echo "usage: scripts/model-thresholds.sh LABELLED.jsonl…  (sets the model was not trained on)" >&2
    exit 2
fi
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
MODEL="$config/model/risk.json" THRESHOLDS="${THRESHOLDS:-}" SHORT_WORDS="${SHORT_WORDS:-}" SHORT_THRESHOLD="${SHORT_THRESHOLD:-}" \
python3 - "${pairs[@]}" <<'PY'
import json, os, sys
model = json.load(open(os.environ["MODEL"]))
shipped = model["threshold"]
own = model.get("flagThresholds", {})
rule = model.get("shortMessage", {"words": 0, "threshold": 0})
short_words = int(os.environ["SHORT_WORDS"] or rule["words"])
short_threshold = float(os.environ["SHORT_THRESHOLD"] or rule["threshold"])
same_rule = short_words == rule["words"] and short_threshold == rule["threshold"]
thresholds = [float(t) for t in os.environ["THRESHOLDS"].split()] or sorted({0.1, 0.15, 0.2, 0.25, 0.3, shipped})
critical = {"protection.gbv", "protection.trafficking", "protection.child_at_risk", "protection.self_harm",
            "protection.medical_emergency", "misconduct.sexual_exploitation"}
veto = model.get("veto", {"below": 0, "flags": []})

def vetoed(scores, flag):
    return (flag in veto["flags"] and scores["probabilities"][flag] < veto["below"]
            and scores["words"] >= veto.get("minimumWords", 0))

def raised(scores, flag, threshold):
    bar = own.get(flag, threshold)
    if scores["words"] < short_words:
        bar = max(bar, short_threshold)
    return scores["probabilities"][flag] > bar

def rows(gold_path, out_path):
    gold = {}
    for line in open(gold_path):
        if line.strip():
            item = json.loads(line)
            gold[item["id"]] = set(item["flags"])
    for line in open(out_path):
        result = json.loads(line)
        scores = result["model_scores"]
        # What the lexicons found: their evidence, and the flags the model vetoed (whose
        # evidence classify dropped).
        lexicons = {e["flag"] for e in result["evidence"] if not e["entry"].startswith("model:")} | set(scores["vetoed"])
        # At the shipped settings this must be what classify itself decided.
        if same_rule and {f for f in model["flags"] if raised(scores, f, shipped)} != set(scores["raised"]):
            sys.exit(f"{result['id']}: the script disagrees with classify about the model's flags")
        if {f for f in lexicons if vetoed(scores, f)} != set(scores["vetoed"]):
            sys.exit(f"{result['id']}: the script disagrees with classify about the model's vetoes")
        if same_rule and (lexicons - set(scores["vetoed"])) | set(scores["raised"]) != set(result["flags"]):
            sys.exit(f"{result['id']}: the script disagrees with classify about the flags")
        yield gold[result["id"]], lexicons, scores

def score(items, threshold):
    tp = fp = fn = ctp = cfn = alarms = free = 0
    for gold, lexicons, scores in items:
        predicted = {f for f in lexicons if not vetoed(scores, f)} | {f for f in model["flags"] if raised(scores, f, threshold)}
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
print(f"micro-F1 / critical recall / false alarms on flag-free messages; shipped threshold {shipped:g}, "
      f"short messages (< {short_words} words) need {short_threshold:g}")
print("| set | " + " | ".join(f"{t:g}" for t in thresholds) + " |")
print("|---|" + "---|" * len(thresholds))
for name, items in sets:
    print(f"| {os.path.basename(name)} | " + " | ".join(score(items, t) for t in thresholds) + " |")
PY
