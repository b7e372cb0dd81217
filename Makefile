# logbucket: the two set-up commands are `make serve` and `make test` (see README.md).
SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
DATA ?= ./data
JOBS ?= $(shell nproc)

.PHONY: all deps build build-asan check test test-unit test-integration test-asan serve bench format format-check clean

all: build

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/build.ninja:
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLOGBUCKET_SANITIZE=ON

build: $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

build-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD) -j $(JOBS)

# Quick inner loop: unit tests of the release build only.
check: build
	$(BUILD)/unit_tests --gtest_brief=1

test-unit: build build-asan
	$(BUILD)/unit_tests --gtest_brief=1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(ASAN_BUILD)/unit_tests --gtest_brief=1

test-integration: build
	LOGBUCKET_BIN=$(abspath $(BUILD))/logbucket /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# The integration suite again against the sanitizer build (slower; catches memory errors that
# only real clients provoke).
test-asan: build-asan
	LOGBUCKET_BIN=$(abspath $(ASAN_BUILD))/logbucket LOGBUCKET_SANITIZED=1 \
	  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration

# Everything CI runs: install, build both variants, unit + integration tests on both.
test: deps
	$(MAKE) test-unit
	$(MAKE) format-check
	$(MAKE) test-integration
	$(MAKE) test-asan

serve: deps build
	$(BUILD)/logbucket serve --data $(DATA)

bench: deps build
	/usr/bin/python3 bench/run.py

format:
	clang-format -i $$(git ls-files 'src/*.cc' 'src/*.h')

format-check:
	@out=$$(clang-format --dry-run $$(git ls-files 'src/*.cc' 'src/*.h') 2>&1); \
	if [ -n "$$out" ]; then echo "$$out" | head -20; echo "format-check: run 'make format'"; exit 1; fi

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
