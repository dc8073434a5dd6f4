# vagt — see README.md. Every target works on a fresh Debian machine with Go; `make tools`
# installs the rest (InfluxDB 1.8.10 into bin/, Mosquitto, PostgreSQL, Chromium with apt).
SHELL    := /bin/bash
GO       ?= go
BIN      := $(CURDIR)/bin
FUZZTIME ?= 10s
# The test binaries find influxd in bin/ (test/localstack looks there too).
export PATH := $(BIN):$(PATH)

.PHONY: all build test bench lint fuzz tools cross run clean clean-data

all: build

## build: every binary into bin/
build:
	$(GO) build -trimpath -o $(BIN)/ ./cmd/...

## test: every test, real services included, with the race detector. Prints one line per
## top-level test (so a skip shows), failures and log lines; the full log is artifacts/test.log.
test:
	@mkdir -p artifacts; set -o pipefail; \
	$(GO) test -race -count=1 -timeout 18m -v ./... 2>&1 | tee artifacts/test.log \
	  | grep --line-buffered -E '^(--- |ok |FAIL|panic:|\?)|^ +--- FAIL|^ +[^ ]+\.go:[0-9]+: '

## bench: every benchmark (figures, not gates)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: formatting, vet and staticcheck (bin/staticcheck from `make tools`, else one on
## PATH; without either it says so, and CI — VAGT_REQUIRE_SERVICES=1 — fails)
lint:
	@out=$$(gofmt -l .); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@sc=$(BIN)/staticcheck; [ -x "$$sc" ] || sc=$$(command -v staticcheck || true); \
	  if [ -n "$$sc" ]; then echo "$$sc ./..."; "$$sc" ./...; \
	  elif [ -n "$$VAGT_REQUIRE_SERVICES" ]; then echo "staticcheck not installed (make tools)"; exit 1; \
	  else echo "staticcheck not installed (make tools): skipped"; fi

## fuzz: every fuzz target for FUZZTIME each (seeds run in `make test` too). CI gives a count
## (FUZZTIME=50000x), not a duration: with a duration, Go 1.26's fuzz coordinator can fail a
## target with a bare "context deadline exceeded" at the deadline (golang/go#75804, fixed in
## Go 1.27) — seen here on FuzzScanner under load, with no crasher written.
fuzz:
	@set -e; for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$dir $$f for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$dir; \
	  done; done

## tools: InfluxDB 1.8.10, nats-server 2.15.3 and Ory Hydra 2.3.0 (OIDC provider of the sign-in tests) into bin/; Mosquitto, PostgreSQL, Chromium, gcc with apt when root
tools:
	bash deploy/tools.sh

## cross: the gateway for the ARM boxes in the homes
cross:
	@if [ -d cmd/vagt-gateway ]; then \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/linux-arm64/vagt-gateway ./cmd/vagt-gateway && \
	  GOOS=linux GOARCH=arm GOARM=7 CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/linux-arm/vagt-gateway ./cmd/vagt-gateway && \
	  file $(BIN)/linux-arm64/vagt-gateway $(BIN)/linux-arm/vagt-gateway 2>/dev/null || true; \
	else echo "cmd/vagt-gateway does not exist yet (issue: home gateway)"; fi

## run: the whole platform with simulated homes (vagt-demo); gets InfluxDB 1.8.10 first
run: build
	bash deploy/tools.sh influxd
	$(BIN)/vagt-demo $(DEMO_FLAGS)

## clean: binaries and test artefacts; clean-data: the demo's data under var/
clean:
	rm -rf $(BIN) artifacts
clean-data:
	rm -rf var

## bench-ingest: raw InfluxDB ceiling vs vagt ingest fed by the load generator through
## Mosquitto, on the local stack; prints readings/s, ratio, CPU-s per million, peak RSS,
## and checks by counting in InfluxDB that every reading sent was stored (test/bench)
.PHONY: bench-ingest
bench-ingest:
	$(GO) build -trimpath -o $(BIN)/vagt ./cmd/vagt
	$(GO) run ./test/bench -vagt $(BIN)/vagt $(BENCH_FLAGS)

## bench-influx-disk: what telemetry costs on InfluxDB's disk once compacted (bytes per
## point, a home's year), with the tsi1 index (test/influxdisk; docs/scaling.md, "InfluxDB
## sizing")
.PHONY: bench-influx-disk
bench-influx-disk:
	$(GO) run ./test/influxdisk $(BENCH_FLAGS)

## bench-notify: an alarm published on Mosquitto -> the care app's notification shown by its
## service worker (headless Chromium, the app in a background tab), p50/p99 idle and with
## ingest carrying the load generator's 50,000 readings/s into InfluxDB (api/web
## TestNotifyLatency; about 75 s; BENCH_ALARMS alarms per phase, default 40)
.PHONY: bench-notify
bench-notify:
	VAGT_BENCH_NOTIFY=1 VAGT_BENCH_ALARMS=$(or $(BENCH_ALARMS),40) $(GO) test -count=1 -run '^TestNotifyLatency$$' -v ./api/web

## scale: the long scale measurements of issue 20, not in `make test`: per broker (Mosquitto,
## the 3-node NATS cluster) one TLS connection with its own client certificate per gateway —
## memory per connection, TLS handshakes/s, the reconnect storm with and without jitter
## (time to 99 %/100 % back, alarm latency during it, alarms lost). SCALE_FLAGS, e.g.
## -gateways 20000 -brokers nats; with -chain instead the chain (ingest, InfluxDB) under a
## node's kill -9 and freeze (test/scale; docs/scaling.md has the figures)
.PHONY: scale
scale:
	bash deploy/tools.sh nats
	$(GO) build -trimpath -o $(BIN)/vagt ./cmd/vagt
	$(GO) run ./test/scale -vagt $(BIN)/vagt $(SCALE_FLAGS)

## bench-replicas: 1, 2, 3 ingest replicas on the 3-node NATS cluster, telemetry split by
## subject mapping (--partition): readings/s, CPU-s per million, every reading counted in
## InfluxDB, the load average (test/replicas/bench; not in `make test`). REPLICAS_FLAGS,
## e.g. -replicas 1,3 -homes 300 (the defaults gave the docs/scaling.md figures)
.PHONY: bench-replicas
bench-replicas:
	bash deploy/tools.sh nats
	$(GO) build -trimpath -o $(BIN)/vagt ./cmd/vagt
	$(GO) run ./test/replicas/bench -vagt $(BIN)/vagt $(REPLICAS_FLAGS)

## test-chaos: the long chaos run (test/chaos): each fault held CHAOS_HOLD, CHAOS_ROUNDS rounds;
## CHAOS_FAULTS picks faults by name (comma-separated), CHAOS_STRICT=1 fails on known losses too
CHAOS_HOLD   ?= 30s
CHAOS_ROUNDS ?= 3
.PHONY: test-chaos
test-chaos:
	VAGT_CHAOS_HOLD=$(CHAOS_HOLD) VAGT_CHAOS_ROUNDS=$(CHAOS_ROUNDS) VAGT_CHAOS_FAULTS="$(CHAOS_FAULTS)" \
	  VAGT_CHAOS_STRICT=$(CHAOS_STRICT) $(GO) test -race -count=1 -timeout 0 -v -run '^TestChaos$$' ./test/chaos

## test-chaos-cluster: the chaos run against the 3-node NATS cluster instead of Mosquitto, as in
## production (TLS client certificates, every client authorised by a vagt broker-auth beside each
## node): kill -9 of ingest's node with its broker-auth, kill -9 of the api node's broker-auth alone,
## and a partition of the api's node replace the broker's kill (not in make test)
.PHONY: test-chaos-cluster
test-chaos-cluster:
	bash deploy/tools.sh nats
	VAGT_CHAOS_BROKER=nats VAGT_CHAOS_HOLD=$(CHAOS_HOLD) VAGT_CHAOS_ROUNDS=$(CHAOS_ROUNDS) VAGT_CHAOS_FAULTS="$(CHAOS_FAULTS)" \
	  VAGT_CHAOS_STRICT=$(CHAOS_STRICT) $(GO) test -race -count=1 -timeout 0 -v -run '^TestChaos$$' ./test/chaos

## soak: the load generator at SOAK_RATE readings/s (national: 50,000) and SOAK_ALARMS alarms/s for DURATION;
## throughput, alarm latency, memory of every process over time, zero loss (test/chaos)
DURATION   ?= 30m
SOAK_HOMES ?= 2000
SOAK_RATE  ?= 50000
SOAK_ALARMS ?= 10
.PHONY: soak
soak:
	VAGT_SOAK_DURATION=$(DURATION) VAGT_SOAK_HOMES=$(SOAK_HOMES) VAGT_SOAK_RATE=$(SOAK_RATE) VAGT_SOAK_ALARMS=$(SOAK_ALARMS) $(GO) test -count=1 -timeout 0 -v -run '^TestSoak$$' ./test/chaos

## vuln: known vulnerabilities in the module and its dependencies (needs vuln.go.dev)
.PHONY: vuln
vuln:
	$(GO) run golang.org/x/vuln/cmd/govulncheck@v1.1.4 ./...

## test-alarms: the alarm property (test/alarmprop): a seeded random plan of presses, clears,
## noise, clock steps, uplink cuts, broker restarts, kill -9 and spool loss against a real
## gateway, then every acknowledged alarm must be exactly one alert (SQLite and PostgreSQL).
## ALARM_STEPS actions (0: no bound), ALARM_DURATION (e.g. 30m; empty: no bound), ALARM_SEED
## replays a run (empty: a new seed, printed); ALARM_SKIP=clock,kill,spool,broker,cut,noise leaves
## fault groups out. `make test` runs 200 actions.
ALARM_STEPS    ?= 2000
ALARM_DURATION ?=
ALARM_SEED     ?=
ALARM_SKIP     ?=
.PHONY: test-alarms
test-alarms:
	VAGT_ALARM_STEPS=$(ALARM_STEPS) VAGT_ALARM_DURATION=$(ALARM_DURATION) VAGT_ALARM_SEED=$(ALARM_SEED) \
	  VAGT_ALARM_SKIP=$(ALARM_SKIP) VAGT_REQUIRE_SERVICES=1 \
	  $(GO) test -race -count=1 -timeout 0 -v -run '^TestAlarmProperty$$' ./test/alarmprop

## restore-drill: docs/operations.md "Backup and restore" rehearsed with the real processes, on
## SQLite and PostgreSQL: online backup while alarms flow, stop, restore, vagt alarms replay,
## start; every alarm published must be exactly one alert and an open console must show them all
## (test/chaos TestRestoreDrill; `make test` skips it)
.PHONY: restore-drill
restore-drill:
	VAGT_RESTORE_DRILL=1 VAGT_REQUIRE_SERVICES=1 $(GO) test -count=1 -timeout 20m -v -run '^TestRestoreDrill$$' ./test/chaos
