# make test: everything CI runs. make check: formatting and static analysis only.
# make mutate: mutation testing, not part of make test (see TESTING.md).
# make load: the load test of the example app, not part of make test either.
STATICCHECK_VERSION ?= v0.8.2
GREMLINS_VERSION ?= v0.6.0
GO ?= go
TEST_FLAGS ?= -race -count=1 -timeout 20m

.PHONY: test check fmt vet staticcheck services chromium axe screenshots unit bench fuzz example mutate load

test: check services chromium axe
	$(GO) test $(TEST_FLAGS) ./...

check: fmt vet staticcheck

fmt:
	@out=$$(gofmt -l . 2>&1); if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Start PostgreSQL, MariaDB and Redis when they are not running (installing
# them with apt-get when root and absent); say what is missing otherwise.
services:
	@bash scripts/services.sh

# Chromium for the WebAuthn browser tests.
chromium:
	@bash scripts/chromium.sh

# axe-core from npm, for the accessibility audits of the browser tests.
axe:
	@bash scripts/axe.sh

# The screenshots in docs/screenshots: every page of the example app on a
# laptop and a phone, taken by the tour of its pages.
screenshots: chromium axe
	TWOFACTOR_SCREENSHOTS=docs/screenshots $(GO) test -count=1 -timeout 20m -run '^TestTour' ./examples/webapp

# Tests that need no service or browser.
unit:
	$(GO) test $(TEST_FLAGS) -short ./...

# Mutation testing with gremlins over the packages that hold the security
# rules, one at a time, hermetic (no server, no browser): efficacy per
# package and the time taken. One package: make mutate PKGS=./totp
mutate:
	@GO=$(GO) GREMLINS_VERSION=$(GREMLINS_VERSION) bash scripts/mutate.sh $(PKGS)

# Load test: two copies of examples/webapp sharing Redis, then PostgreSQL,
# signed into at a steady rate; a report per store, and a failure when a
# goal is missed (TESTING.md, "Load test"). Shorter or faster:
# make load LOAD_DURATION=30s LOAD_RATE=10 LOAD_FLAGS="-stores redis"
LOAD_DURATION ?= 5m
LOAD_RATE ?= 20
LOAD_FLAGS ?=
load: services
	GO=$(GO) $(GO) run ./examples/webapp/loadtest -duration $(LOAD_DURATION) -rate $(LOAD_RATE) $(LOAD_FLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The example web app: every factor and page, on http://localhost:8080.
# Its flags go in ARGS: make example ARGS="-v -addr localhost:8081"
example:
	@echo "Building the example app; the first build takes a minute or two…"
	@$(GO) build -o bin/webapp ./examples/webapp
	@./bin/webapp $(ARGS)
