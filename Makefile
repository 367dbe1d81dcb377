# streamproc — build and test. `make test` is the one command that runs every
# check; .ci/run calls exactly it.
GO            ?= go
STATICCHECK   ?= $(shell $(GO) env GOPATH)/bin/staticcheck
LAMBDAS       := consumer transformer producer trending
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags="-s -w"

.PHONY: all build test lint tools lambdas clean

all: build

build:
	$(GO) build -o bin/streamproc ./cmd/streamproc

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: run gofmt -w on the files above'; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: lint
	$(GO) test -race -count=1 ./...

clean:
	rm -rf bin dist .aws-sam
