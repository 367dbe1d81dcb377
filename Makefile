# streamproc — build and test. `make test` is the one command that runs every
# check; .ci/run calls exactly it.
GO            ?= go
STATICCHECK   ?= $(shell $(GO) env GOPATH)/bin/staticcheck
LAMBDAS       := consumer transformer producer trending bucketcleaner
LAMBDA_FLAGS  := -tags lambda.norpc -trimpath -ldflags="-s -w"
LAMBDA_ARCH   ?= arm64

.PHONY: all build test lint tools lambdas clean template-queries demo up

# Plain `make`: the CLI and every Lambda zip.
.DEFAULT_GOAL := all

# Lambda bootstraps: static linux binaries named bootstrap for provided.al2023.
# $(1) = package under cmd/lambda, $(2) = output directory.
define build-lambda
	@test -n "$(2)" || { echo 'build-<LogicalID> is for sam build (it sets ARTIFACTS_DIR); run make or make lambdas'; exit 2; }
	mkdir -p $(2)
	GOOS=linux GOARCH=$(LAMBDA_ARCH) CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o $(2)/bootstrap ./cmd/lambda/$(1)
endef

# `sam build` (BuildMethod: makefile) calls build-<LogicalID> with ARTIFACTS_DIR set.
build-DataStreamConsumer:  ; $(call build-lambda,consumer,$(ARTIFACTS_DIR))
build-FirehoseTransformer: ; $(call build-lambda,transformer,$(ARTIFACTS_DIR))
build-DataStreamProducer:  ; $(call build-lambda,producer,$(ARTIFACTS_DIR))
build-TrendingHashtags:    ; $(call build-lambda,trending,$(ARTIFACTS_DIR))
build-BucketCleaner:       ; $(call build-lambda,bucketcleaner,$(ARTIFACTS_DIR))

# dist/<fn>.zip for each function, ready for `aws lambda update-function-code`.
lambdas:
	@for fn in $(LAMBDAS); do \
		$(MAKE) --no-print-directory lambda-zip FN=$$fn || exit 1; \
	done

lambda-zip:
	@case " $(LAMBDAS) " in *" $(FN) "*) ;; *) echo 'make lambda-zip FN=<function>: FN is one of $(LAMBDAS)'; exit 2;; esac
	$(call build-lambda,$(FN),dist/$(FN))
	cd dist/$(FN) && rm -f ../$(FN).zip && python3 -m zipfile -c ../$(FN).zip bootstrap
	@echo "dist/$(FN).zip"

# Rewrites the AWS::Athena::NamedQuery resources of template.yaml from queries/*.sql.
template-queries:
	UPDATE_TEMPLATE=1 $(GO) test ./deploy -run TestNamedQueriesMatchFiles -count=1

all: build lambdas

build:
	$(GO) build -o bin/streamproc ./cmd/streamproc

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@v0.0.0-20261030222936-bef5c4ba774d

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: run gofmt -w on the files above'; exit 1; }
	$(GO) vet ./...
	$(STATICCHECK) ./...

test: lint
	$(GO) test -race -count=1 ./...

# The main job: the whole architecture from template.yaml on synthetic
# tweets, on this machine. Ctrl-C drains and stops.
up: build
	bin/streamproc up $(UP_FLAGS)

# The functions one at a time: synthetic tweets → local stream →
# consumer → EventData, then a look at the table.
demo: build
	bin/streamproc generate-event schedule | bin/streamproc invoke producer -e - > /dev/null
	bin/streamproc generate-event kinesis --from-stream --count 500 | bin/streamproc invoke consumer -e -
	bin/streamproc table scan EventData --limit 5

clean:
	rm -rf bin dist .aws-sam
