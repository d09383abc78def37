# The two commands of the README: `make run` and `make test`. `make bench` runs the benchmarks,
# `make soak` the soak test (scripts/soak.py; SOAK_SECONDS of load, split between its two phases),
# `make fuzz` the fuzz targets (FUZZ_SECONDS each, default 60; see scripts/fuzz.sh).
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
SOAK_SECONDS ?= 600
CMAKE_FLAGS ?=
CTEST_ARGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DFERRY_WERROR=ON
endif
# `make test-asan` sets SANITIZE: a second build directory with the sanitizers compiled in. The
# warnings are the main build's business (gcc warns differently with sanitizers on).
SANITIZE ?=
ifneq ($(SANITIZE),)
CMAKE_FLAGS += -DFERRY_SANITIZE=$(SANITIZE) -DFERRY_BUILD_BENCH=OFF -DFERRY_WERROR=OFF
endif

.PHONY: run test test-asan tsan install package bench soak fuzz deps configure build format clean

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	@scripts/run.sh $(BUILD_DIR)/app/ferry $(ARGS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600 -j $(JOBS) $(CTEST_ARGS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer, in build-asan. Any report
# fails its test. Tests labelled no-asan are left out (tests/CMakeLists.txt says which and why).
test-asan:
	@ASAN_OPTIONS="$(ASAN_OPTIONS_CI)" UBSAN_OPTIONS="$(UBSAN_OPTIONS_CI)" \
		LSAN_OPTIONS="suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0" \
		$(MAKE) --no-print-directory test BUILD_DIR=build-asan SANITIZE=address,undefined \
		CTEST_ARGS="-LE no-asan"
# verify_asan_link_order=0: tst_clusterclock runs nodes under libfaketime (LD_PRELOAD), which
# loads before the ASan runtime; the order does not matter for what these tests check.
ASAN_OPTIONS_CI = detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=0:strict_string_checks=1:verify_asan_link_order=0
UBSAN_OPTIONS_CI = halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp

# The concurrency suites under ThreadSanitizer, in build-tsan: the dispatcher, the connection
# pools, the HTTP server and the API's batched job reads, the cluster, the rate limiter and the quota ledger, on SQLite and (the
# _pg variants, with the throwaway server) PostgreSQL. Only their targets are built. Any report
# fails its test (exitcode=66; halt_on_error=0 so that a run shows every report). Debian's Qt is
# not built with TSan: tests/sanitizers/tsan-qt-handoffs.cpp (preloaded) tells TSan what Qt
# synchronises between threads, ignore_noninstrumented_modules=1 leaves unchecked what Qt, glib
# and libpq touch through libc, and tests/sanitizers/tsan.supp says what else is Qt's and why.
TSAN_TESTS = tst_dispatcher tst_queueraces tst_jobqueue \
	tst_connectionpool tst_postgrespool \
	tst_httpserver tst_httplimits tst_httpabort tst_httpwritestall tst_httphostile \
	tst_httpdecidelater tst_httpdescriptors tst_batchedjobreads \
	tst_clusternode tst_clusterpostgres tst_clusterquota tst_clusterdispatch \
	tst_ratelimiter tst_sharedratelimit \
	tst_quotaledger tst_quotareservations tst_quotahold
TSAN_OPTIONS_CI = halt_on_error=0:exitcode=66:ignore_noninstrumented_modules=1:second_deadlock_stack=1:history_size=4:suppressions=$(CURDIR)/tests/sanitizers/tsan.supp
tsan:
	@$(MAKE) --no-print-directory configure BUILD_DIR=build-tsan SANITIZE=thread
	@cmake --build build-tsan -j $(JOBS) --target $(TSAN_TESTS)
	@$(CXX) -shared -fPIC -O1 -std=c++20 $$(pkg-config --cflags Qt6Core) \
		-o build-tsan/libferry-tsan-qt.so tests/sanitizers/tsan-qt-handoffs.cpp \
		$$(pkg-config --libs Qt6Core) -ldl
	@cd build-tsan && LD_PRELOAD=$(CURDIR)/build-tsan/libferry-tsan-qt.so \
		TSAN_OPTIONS="$(TSAN_OPTIONS_CI)" ctest --output-on-failure --timeout 1200 \
		-j $(JOBS) -R '^($(subst $(space),|,$(strip $(TSAN_TESTS))))(_pg)?$$' $(CTEST_ARGS)
# One space, for the -R regex above.
space := $(subst ,, )

# Installs into PREFIX (default /usr/local): the binary, desktop entry, icons, AppStream metadata,
# man page, bash completion and systemd unit.
PREFIX ?= /usr/local
install: build
	@cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# A Debian package (CPack; dependencies from dpkg-shlibdeps) in $(BUILD_DIR)/ferry_*.deb.
package: build
	@scripts/install-deps.sh package
	@cd $(BUILD_DIR) && cpack -G DEB

bench: build
	@scripts/bench.sh $(BUILD_DIR)

# Not part of `make test`: builds only `ferry`, then SOAK_SECONDS of load (half on one SQLite
# node, half on two nodes sharing a throwaway PostgreSQL) and checks its invariants.
soak: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target ferry
	@python3 scripts/soak.py --build $(BUILD_DIR) --seconds $(SOAK_SECONDS)

FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps.sh fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) scripts/fuzz.sh

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	@rm -rf $(BUILD_DIR)
