# ocs: the two commands of the README are `make run` and `make test`.
# Everything installs into .venv in this checkout; only python3 (>= 3.11) and make are needed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/ocs.toml

.PHONY: run test install lint typecheck check bench-http2 bench-codec bench-dispatch bench-balance bench-lua bench-billing bench-documents bench-grpc bench bench-ab protos clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "ocs needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,load]'
	@touch $@

install: $(STAMP)

## Install, then run the server on the embedded default (a redis-server that ocs starts itself).
run: $(STAMP)
	$(BIN)/ocs serve --config $(CONFIG)

## Install, then run the whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ocs tests loadtests

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

## Diameter server path (peer, dispatch, transport) without a handler: CPU per request.
bench-dispatch: $(STAMP)
	$(BIN)/python -m ocs.bench.dispatch

## Balance engine: reserve+commit cycles from one process vs. the same scripts deeply pipelined.
bench-balance: $(STAMP)
	$(BIN)/python -m ocs.bench.balance

## Balance engine, Redis side: what each phase of the session script costs (us per call).
bench-lua: $(STAMP)
	$(BIN)/python -m ocs.bench.lua

## Billing bridge: events/s from the streams into the ledger vs reads alone (prints figures).
bench-billing: $(STAMP)
	$(BIN)/python -m ocs.bench.billing

## Invoice PDFs: one of each kind (names in five scripts) rendered; prints time and size each.
bench-documents: $(STAMP)
	$(BIN)/python -m ocs.bench.documents

## HTTP/2 servers for Nchf: granian vs hypercorn vs a handler on h2, POST with JSON (needs h2load).
bench-http2: $(STAMP)
	$(BIN)/python -m ocs.bench.http2

## Diameter codec benchmark: ours vs python-diameter in the same run (prints figures).
bench-codec: $(STAMP)
	$(BIN)/python -m ocs.bench.codec

## The whole server: ocs serve (embedded redis) loaded by ocs bench with real Diameter
## sessions, balances checked after, in both load profiles: the default (8 connections, 512
## sessions in flight, 8 CCR-U each) and the gateway profile (2 gateways of one connection,
## 100 sessions in flight each, 4 CCR-U each, every 10th an SMS event). Reports are appended to
## var/bench-reports.md (under the state dir: a benchmark never rewrites a tracked file).
## `make bench WORKERS=2` for two worker processes; BENCH_ARGS for the load shape.
## `make bench-ab OTHER=../checkout` compares this checkout with another, same load, in turns.
WORKERS ?= 1
BENCH_ARGS ?= --duration 60 --warmup 5
BENCH_REPORT ?= var/bench-reports.md
bench: $(STAMP)
	@mkdir -p $(dir $(BENCH_REPORT))
	$(BIN)/ocs bench --serve --workers $(WORKERS) --profile default $(BENCH_ARGS) \
		--subscribers 512 --connections 8 --label "$(WORKERS) worker(s), default" \
		--report $(BENCH_REPORT)
	$(BIN)/ocs bench --serve --workers $(WORKERS) --profile gateway $(BENCH_ARGS) \
		--label "$(WORKERS) worker(s), gateway" --report $(BENCH_REPORT)

OTHER ?=
AB_ARGS ?= --rounds 5 --duration 20 --warmup 5
bench-ab: $(STAMP)
	$(BIN)/python -m ocs.bench.ab $(OTHER) $(AB_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

## Regenerate the gRPC/protobuf modules in ocs/api/v1 from protos/ (checked in; a test fails if stale).
protos: $(STAMP)
	$(BIN)/python -m ocs.api.codegen

## gRPC credit control: unary and streaming vs the charging core called directly (prints figures).
bench-grpc: $(STAMP)
	$(BIN)/python -m ocs.bench.grpc
