# The two commands: `make run` (the whole app locally) and `make test` (everything CI runs).
GO      ?= go
NPM     ?= npm
NODE    ?= node
BIN     := bin/handler
# The events consumer `make run` starts (cmd/events-tail; the README's downstream example).
TAIL    := bin/events-tail
# The demo app `make run` starts (cmd/demo): "your app", the returnUrl of its sessions.
DEMO    := bin/demo
DIST    := dist
# The app staged for Core Tools (`make func-start`), with the handler built for this machine.
FUNC    := bin/func

# Every local port can be chosen (make run PORT=8080 ...); the settings that hold them follow.
PORT        ?= 7071
FACE_PORT   ?= 7072
TABLES_PORT ?= 10002
BLOB_PORT   ?= 10000
QUEUE_PORT  ?= 10001
SERVICEBUS_PORT      ?= 5672
SERVICEBUS_HTTP_PORT ?= 5300
DEMO_PORT   ?= 8080
PORTS = -port $(PORT) -face-port $(FACE_PORT) -tables-port $(TABLES_PORT) \
	-servicebus-port $(SERVICEBUS_PORT) -servicebus-http-port $(SERVICEBUS_HTTP_PORT)
# How often `make run` plays the Reconcile timer (under Core Tools the host runs it).
RECONCILE_EVERY ?= 1m

.PHONY: all deps build run func-app func-start test vet bench bench-go fuzz soak fmt clean package check-bicep deploy chromium screenshots

all: build

# npm packages (Azurite, the Bicep syntax checker) pinned by package-lock.json; reinstalled when
# the lockfile changes.
deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package-lock.json package.json
	$(NPM) ci --no-audit --no-fund --loglevel=error

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/handler
	CGO_ENABLED=0 $(GO) build -trimpath -o $(TAIL) ./cmd/events-tail
	CGO_ENABLED=0 $(GO) build -trimpath -o $(DEMO) ./cmd/demo

# devstack runs as its own binary (not under `go run`) so Ctrl-C reaches it directly and it stops
# every child it started.
run: deps build
	$(GO) build -o bin/devstack ./cmd/devstack
	./bin/devstack -handler $(BIN) -events-tail $(TAIL) $(PORTS) -reconcile-every $(RECONCILE_EVERY) \
		-demo $(DEMO) -demo-port $(DEMO_PORT)

# The app folder as the Functions host wants it (host.json and the function folders side by
# side, the handler beside them), for Core Tools on this machine.
func-app: build
	$(GO) run ./cmd/package -root . -handler $(BIN) -out $(FUNC) -zip=false

# Core Tools locally: the stand-ins, $(FUNC)/app/local.settings.json pointing at them, and
# `func start` in that folder (or how to install Core Tools, with the stand-ins left running).
func-start: deps func-app
	$(GO) build -o bin/devstack ./cmd/devstack
	./bin/devstack -func $(FUNC)/app -events-tail $(TAIL) $(PORTS) -blob-port $(BLOB_PORT) -queue-port $(QUEUE_PORT)

vet:
	$(GO) vet ./...

# Headless Chromium for the browser suite (internal/testing/e2e) and `make screenshots`:
# Debian's chromium package, installed when missing (needs root, as in CI).
chromium:
	./scripts/ensure-chromium.sh

# Every test: unit, spec validation, integration against Azurite, host contract, the browser
# suite in headless Chromium, the Bicep syntax check and policy tests (infra/), packaging. Each
# package starts and stops its own services on free ports. The host contract then runs again
# against the staged package and the folder `make func-start` runs.
test: deps chromium vet check-bicep package func-app
	$(GO) test -race -count=1 -timeout 20m ./...
	HOSTCONTRACT_APP_ROOT=$(CURDIR)/$(DIST)/app $(GO) test -count=1 ./hostcontract/...
	HOSTCONTRACT_APP_ROOT=$(CURDIR)/$(FUNC)/app $(GO) test -count=1 ./hostcontract/...

# The Azure package: dist/app/ (host.json, one folder per function, the handler) and dist/app.zip.
package:
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w" -o $(DIST)/handler ./cmd/handler
	$(GO) run ./cmd/package -root . -handler $(DIST)/handler -out $(DIST)

# Syntax of every Bicep file, offline (tree-sitter-bicep); file:line:col on errors.
check-bicep: deps
	$(NODE) infra/check-bicep.mjs infra

# Provision infra/ and publish dist/app.zip: docs/deploy.md. Needs AZURE_RESOURCE_GROUP (and
# AZURE_LOCATION for a new group); DEPLOY_ARGS passes options and Bicep parameters (name=value).
deploy: package
	./scripts/deploy.sh $(DEPLOY_ARGS)

# PNGs of the demo's pages and the capture page for the README (docs/images/), taken in headless
# Chromium by the browser suite's own code on a local stack of free ports.
screenshots: deps chromium
	$(GO) run ./cmd/screenshots -out docs/images

# The benchmark of docs/performance.md (cmd/bench): cold start, memory and CPU beside the peers,
# full sessions under load, the overhead over upstream latency, Reconcile; writes
# bench/results/<date>.json, .md and -*.svg. BENCH_ARGS passes flags (go run ./cmd/bench -h).
BENCH_ARGS ?=
bench: deps build
	$(GO) run ./cmd/bench -handler $(BIN) $(BENCH_ARGS)

# Every Go microbenchmark (signing and verifying callbacks, CloudEvents, parsing, Reconcile...).
bench-go: deps
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The soak of 2,000 full sessions with faults struck at random (`make test` runs 200 of them):
# SOAK_SESSIONS sets the number, SOAK_SEED replays a run; the figures are in its output.
SOAK_SESSIONS ?= 2000
soak: deps
	SOAK_SESSIONS=$(SOAK_SESSIONS) $(GO) test -race -count=1 -timeout 40m -run '^TestSoak$$' -v ./internal/testing/soak/

# A short run of every fuzz target (FUZZTIME per target). Each package with fuzz targets is
# compiled once, instrumented for fuzzing (`go test -c -fuzz=.`), and that binary runs once per
# target, in the package's folder and with the fuzz cache `go test` would use, so a package with
# three targets is not built three times. A count, not a duration: a duration can end in a
# spurious "context deadline exceeded" from Go 1.26's fuzz coordinator (golang/go#75804).
FUZZTIME ?= 20000x
FUZZBIN  := bin/fuzz
fuzz: deps
	@mkdir -p $(FUZZBIN); cache=$$($(GO) env GOCACHE)/fuzz; \
	$(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read -r pkg dir; do \
	  grep -qs '^func Fuzz' $$dir/*_test.go || continue; \
	  bin=$(CURDIR)/$(FUZZBIN)/$$(echo $$pkg | tr / _).test; \
	  $(GO) test -c -fuzz=. -o $$bin $$pkg || exit 1; \
	  for f in $$($$bin -test.list '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    (cd $$dir && $$bin -test.run '^$$' -test.fuzz "^$$f$$" -test.fuzztime $(FUZZTIME) \
	      -test.fuzzcachedir $$cache/$$pkg) || exit 1; \
	  done; \
	done

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin dist
