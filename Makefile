# The two commands of the README, and a few more.
.PHONY: run test bench vet

# Run the whole system on embedded defaults (SQLite under ./data, codes in ./data/sms-outbox.jsonl).
run:
	go run ./cmd/xszz serve

# Every test of the main module and of the SDK module. PostgreSQL and Redis
# tests run when XSZZ_TEST_POSTGRES_URL / XSZZ_TEST_REDIS_URL are set.
test:
	go test ./...
	cd sdk && go test ./...

bench:
	go run ./cmd/xszz-bench

vet:
	go vet ./...
	cd sdk && go vet ./...
	@test -z "$$(gofmt -l . | tee /dev/stderr)"
