# The two commands of the README, and a few more.
.PHONY: run test bench vet

# Run the whole system on embedded defaults (SQLite under ./data, codes in ./data/sms-outbox.jsonl).
run:
	go run ./cmd/xszz serve

# Every test of the main module, the SDK module and its nested echomw module.
# PostgreSQL and Redis tests run when XSZZ_TEST_POSTGRES_URL /
# XSZZ_TEST_REDIS_URL are set.
# The report shows each package's result, the output of failing tests only,
# and at the end one line per group of skipped tests with the variable that
# turns it on (internal/testreport). A go test that exits non-zero for a
# reason with no JSON event of its own (a broken module) adds a fail event.
test:
	@mkdir -p .cache && go build -o .cache/testreport ./internal/testreport
	@{ go test -json ./... || echo '{"Action":"fail","Package":"github.com/xszz/xszz (go test exited non-zero)"}'; \
	  (cd sdk && go test -json ./...) || echo '{"Action":"fail","Package":"github.com/xszz/xszz/sdk (go test exited non-zero)"}'; \
	  (cd sdk/echomw && go test -json ./...) || echo '{"Action":"fail","Package":"github.com/xszz/xszz/sdk/echomw (go test exited non-zero)"}'; \
	} | .cache/testreport

bench:
	go run ./cmd/xszz-bench

vet:
	go vet ./...
	cd sdk && go vet ./...
	cd sdk/echomw && go vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"
