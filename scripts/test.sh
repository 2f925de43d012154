#!/usr/bin/env bash
# Runs the whole test suite: unit tests, integration tests against a throwaway PostgreSQL
# cluster (started by the tests themselves), fixture-driven gateway tests and the
# classifier's evaluation floors.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# Some Swift 6 concurrency errors only show in whole-module (release) builds.
swift build -c release
swift build --build-tests
swift test --skip-build
