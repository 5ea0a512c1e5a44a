# PayMend — `make run` to try it, `make test` to prove it works.
# Both install what is missing (PostgreSQL, Chromium) when run as root, and
# otherwise stop with the one command to run. The local database cluster lives
# in $PGROOT (default .pg/) on port $PGPORT (default 54329).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build
MAKEFLAGS += --no-print-directory

GO ?= go
PGPORT ?= 54329

.PHONY: all help build generate db db-stop run test vet check-generated gotest fuzz bench lint clean

all: build

help:
	@echo "make run        local PostgreSQL + migrations + demo data + console (+ sandbox platform)"
	@echo "make test       vet, generated-code check, go test -race, fuzz; exit 0 only when all pass"
	@echo "make build      bin/paymend"
	@echo "make generate   go tool templ generate"
	@echo "make db         start the local cluster (PGPORT=$(PGPORT)); make db-stop stops it"
	@echo "make lint       gofmt + go vet"
	@echo "make bench      benchmarks (bench.out) + pgbench ceiling"
	@echo "make clean      remove bin/"

build:
	$(GO) build -o bin/paymend .

generate:
	$(GO) tool templ generate

db:
	@bash scripts/db.sh install
	@bash scripts/db.sh start

db-stop:
	@bash scripts/db.sh stop

run: db build
	@bash scripts/run.sh

# The whole suite; scripts/test.sh prints a summary line and fails on any failure.
test:
	@bash scripts/test.sh all

# Single steps of `make test`, handy while working.
vet:
	@bash scripts/test.sh vet
check-generated:
	@bash scripts/test.sh generated
gotest: db
	@bash scripts/test.sh gotest
fuzz: db
	@bash scripts/test.sh fuzz

bench: db
	@bash scripts/bench.sh

lint:
	@files=$$(find . \( -name '.?*' -o -name node_modules -o -name testdata \) -prune -o -type f -name '*.go' -print); \
	unformatted=$$( [[ -z "$$files" ]] || gofmt -l $$files ); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed on:"; echo "$$unformatted" | sed 's/^/  /'; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin
