SHELL := /bin/bash
# wireseam — two commands on a fresh Debian/Ubuntu machine:
#   make demo    install what is missing, build, run the main job on a bundled capture
#   make test    same set-up (and chromium, for the report's page tests), then the whole test suite

CARGO     ?= cargo
APT_PKGS  := libpcap-dev pkg-config
BIN       := target/release/wireseam
DEMO_FILE ?= fixtures/tcp-basic.pcap

PREFIX    ?= /usr/local
DESTDIR   ?=
INSTALL_BIN ?= $(BIN)

.PHONY: all deps lab-deps test-deps build demo test lint man bless fuzz-smoke clean install install-files

all: build

# Install missing system packages through apt-get (as root, or with password-less sudo);
# otherwise say exactly what to install.
deps:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
	  echo "wireseam: cargo (Rust toolchain) not found. Install Rust from your distribution (apt-get install cargo) or rustup, then re-run."; exit 1; }
	@if pkg-config --exists libpcap 2>/dev/null; then :; else \
	  echo "wireseam: installing $(APT_PKGS) (needed to build against libpcap)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else \
	    echo "wireseam: please run: sudo apt-get install -y $(APT_PKGS)"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null || { \
	    echo "wireseam: apt-get failed; please install: $(APT_PKGS)"; exit 1; }; \
	fi

# The lab (`gen --lab`, `demo` as root) switches the veth's offloads off with ethtool.
LAB_APT_PKGS := ethtool
lab-deps:
	@if command -v ethtool >/dev/null 2>&1 || [ "$$(id -u)" != 0 ]; then :; else \
	  echo "wireseam: installing $(LAB_APT_PKGS) (the lab network switches the veth's offloads off with it)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $(LAB_APT_PKGS) >/dev/null || \
	    echo "wireseam: apt-get failed; install $(LAB_APT_PKGS) for the lab (gen --lab, demo as root)"; \
	fi

# For the tests only (`make demo` stays light): a headless browser for the report's page tests.
TEST_APT_PKGS := chromium
test-deps: deps lab-deps
	@if command -v chromium >/dev/null 2>&1; then :; else \
	  echo "wireseam: installing $(TEST_APT_PKGS) (the report tests load the page in a headless browser)"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO=sudo; else \
	    echo "wireseam: please run: sudo apt-get install -y $(TEST_APT_PKGS)"; exit 1; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $(TEST_APT_PKGS) >/dev/null || { \
	    echo "wireseam: apt-get failed; please install: $(TEST_APT_PKGS)"; exit 1; }; \
	fi
	@if python3 -c 'import duckdb' 2>/dev/null; then :; else \
	  echo "wireseam: installing DuckDB's Python package (tests/sql.rs runs the queries of docs/sql.md with it)"; \
	  python3 -m pip --version >/dev/null 2>&1 || { export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq python3-pip >/dev/null; } || true; \
	  python3 -m pip install -q duckdb 2>/dev/null || python3 -m pip install -q --break-system-packages duckdb || { \
	    echo "wireseam: pip install duckdb failed; please run: python3 -m pip install duckdb"; exit 1; }; \
	fi

build: deps
	$(CARGO) build --release --locked

# The guided tour: live on loopback when it may capture (root or capabilities), otherwise on the
# captures bundled in the binary.
demo: build lab-deps
	@$(BIN) demo

# Formatting (rustfmt.toml) and every clippy warning fail the build; `make test` runs this first.
# Clippy runs on the default build and on the one with the `parquet` feature (`make test`'s):
# code behind a feature, and code only without it, are each checked once.
lint: deps
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@$(CARGO) clippy --version >/dev/null 2>&1 || rustup component add clippy
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --all-targets --features parquet -- -D warnings

# The suite, then the golden-test API example (examples/echo_golden.rs: skipped without the
# right to capture). One build with the `parquet` feature, not the default one: the suite then
# includes the Parquet round trips and the SQL queries of docs/sql.md (DuckDB, required here),
# and the default build's own difference (the not-compiled error) is unit-tested in both
# builds; a second full build would double the time on CI. --no-fail-fast: one failing test
# binary does not hide the results of the others.
TEST_FEATURES := --features parquet
test: test-deps lint
	mkdir -p target; WIRESEAM_REQUIRE_BROWSER=1 WIRESEAM_REQUIRE_DUCKDB=1 $(CARGO) test --locked --no-fail-fast --all-targets $(TEST_FEATURES) 2>&1 | tee target/test.log; \
	  status=$${PIPESTATUS[0]}; \
	  grep -E '^test result:' target/test.log | awk '{p+=$$4; f+=$$6; i+=$$8} END {printf "%d passed, %d failed, %d skipped\n", p, f, i}'; \
	  [ $$status = 0 ] || exit $$status; \
	  $(CARGO) run --locked -q $(TEST_FEATURES) --example echo_golden

# Regenerate the man pages and golden files after an intended change; review the diff.
man: deps
	WIRESEAM_BLESS=1 $(CARGO) test --locked --test man
bless: deps
	WIRESEAM_BLESS=1 $(CARGO) test --locked --test golden --test man

# Each cargo-fuzz target for a bounded short time (CI runs it): frame decoding, capture files
# (seeded with fixtures/), the tracker, the seam engine and the application-layer parsers with
# the escapes of their output. Longer runs: FUZZ_SECONDS=600.
# fuzz/seeds/decode: one frame per tunnel kind (a link-type byte, 0 = Ethernet, then the frame).
FUZZ_SECONDS ?= 20
FUZZ_TARGETS := decode capture_file track seams app
fuzz-smoke: deps
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
	  mkdir -p corpus/$$t; seeds=; [ $$t = capture_file ] && seeds=../fixtures; [ $$t = decode ] && seeds=seeds/decode; \
	  echo "fuzz $$t for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t corpus/$$t $$seeds -- \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
	    | grep -E 'stat::number_of_executed_units|ERROR|panicked|SUMMARY' || exit 1; \
	  [ $${PIPESTATUS[0]} -eq 0 ] || { echo "fuzz $$t found a crash (fuzz/artifacts/$$t)"; exit 1; }; \
	done

clean:
	$(CARGO) clean

# The binary, the man pages and the bash, zsh and fish completions under $(DESTDIR)$(PREFIX).
install: build
	@$(MAKE) --no-print-directory install-files

# What `install` copies, from INSTALL_BIN (the release binary unless given).
install-files:
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(INSTALL_BIN) $(DESTDIR)$(PREFIX)/bin/wireseam
	install -m 0644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	$(INSTALL_BIN) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/wireseam
	$(INSTALL_BIN) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_wireseam
	$(INSTALL_BIN) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/wireseam.fish
