#!/usr/bin/env bash
# Installs what is missing, builds, starts the embedded PostgreSQL, loads demo messages
# and serves webhooks on http://127.0.0.1:8080 (Ctrl-C stops it gracefully).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product escucha
export ESCUCHA_DEMO_TOKEN="${ESCUCHA_DEMO_TOKEN:-demo}"
bin=.build/release/escucha
"$bin" db start
"$bin" db migrate
"$bin" demo
# The sample officers of Config/teams.yaml, so the console has someone to log in as.
"$bin" officers sync
echo
echo "In another terminal: .build/release/escucha console --as handler1   (or --as prot-fp: cleared for protection cases)"
echo "Try: curl -s -X POST localhost:8080/webhooks/sms/demo-json -H 'Content-Type: application/json' -H 'X-Escucha-Token: $ESCUCHA_DEMO_TOKEN' -d '{\"id\":\"m-1\",\"from\":\"+573001234567\",\"text\":\"Necesito ayuda, me robaron en la trocha\"}'"
# The demo channel has no real gateway behind it, so acknowledgements retry and fail:
# keep the log to warnings (LOG_LEVEL=info shows every request and retry).
LOG_LEVEL="${LOG_LEVEL:-warning}" exec "$bin" serve --port "${PORT:-8080}"
