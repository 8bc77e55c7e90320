# mpbuild: make builds ./mpbuild; make check runs every test under ASan+UBSan
# (and replays the fuzz corpus in tests/fuzz/corpus); make demo builds the demo
# plan offline from a committed cassette; make fuzz runs each libFuzzer harness
# of tests/fuzz/ for FUZZTIME seconds (default 60) with clang, keeping what it
# finds in build/fuzz/corpus/FORMAT and crashes in build/fuzz/crash-FORMAT-*.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/mpbuild
PKGS = yaml-0.1 jansson sqlite3 libcurl libarchive libzstd libcrypto
DEBPKGS = libyaml-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev libarchive-dev libzstd-dev libssl-dev pkg-config

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Wshadow -Wmissing-prototypes -Werror
CPPFLAGS += -D_DEFAULT_SOURCE -D_XOPEN_SOURCE=700 -DPREFIX='"$(PREFIX)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

SRC = $(wildcard src/*.c)
LIBSRC = $(filter-out src/main.c,$(SRC))
OBJ = $(SRC:src/%.c=build/%.o)
SANOBJ = $(SRC:src/%.c=build/san/%.o)
UNIT = $(wildcard tests/unit/test_*.c)
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

all: mpbuild

mpbuild: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(PKG_LIBS) $(LDFLAGS)

build/%.o: src/%.c src/*.h | build
	$(CC) $(WARN) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/san/%.o: src/%.c src/*.h | build/san
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build build/san build/unit:
	mkdir -p $@

# the sanitizer binary the tests run
build/mpbuild-san: $(SANOBJ)
	$(CC) $(SAN) -o $@ $(SANOBJ) $(PKG_LIBS)

build/unit/%: tests/unit/%.c tests/unit/*.h $(filter-out build/san/main.o,$(SANOBJ)) | build/unit
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -Isrc -o $@ $< $(filter-out build/san/main.o,$(SANOBJ)) $(PKG_LIBS)

UNITBIN = $(UNIT:tests/unit/%.c=build/unit/%)

# fuzz harnesses: tests/fuzz/fuzz_FORMAT.c, one per input format
FUZZ = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZTIME ?= 60
FUZZCC ?= clang
FUZZSAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZOBJ = $(LIBSRC:src/%.c=build/fuzz/obj/%.o)
FUZZLIB = tests/fuzz/fuzz.c tests/fuzz/fuzz.h
# the harnesses as plain programs over the stored corpus, for make check (gcc)
FUZZCHECK = $(FUZZ:%=build/fuzzcheck/%)

build/fuzz/obj build/fuzzcheck:
	mkdir -p $@

# named only as a pattern rule's prerequisites they would count as
# intermediate files: make would delete them after each build
.SECONDARY: $(FUZZOBJ)

build/fuzz/obj/%.o: src/%.c src/*.h | build/fuzz/obj
	$(FUZZCC) $(WARN) -O1 -g $(FUZZSAN) -fsanitize=fuzzer-no-link $(CPPFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZLIB) $(FUZZOBJ)
	$(FUZZCC) $(WARN) -O1 -g $(FUZZSAN) -fsanitize=fuzzer $(CPPFLAGS) $(PKG_CFLAGS) -Isrc -o $@ $< tests/fuzz/fuzz.c $(FUZZOBJ) $(PKG_LIBS)

build/fuzzcheck/%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(FUZZLIB) $(filter-out build/san/main.o,$(SANOBJ)) | build/fuzzcheck
	$(CC) $(WARN) -O1 -g $(SAN) $(CPPFLAGS) $(PKG_CFLAGS) -Isrc -o $@ $< tests/fuzz/fuzz.c tests/fuzz/driver.c $(filter-out build/san/main.o,$(SANOBJ)) $(PKG_LIBS)

# install the Debian packages the build needs, only when some are missing
deps:
	@if ! pkg-config --exists $(PKGS) 2>/dev/null; then \
		echo "installing build dependencies: $(DEBPKGS)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(DEBPKGS) >/dev/null; \
	fi

check: deps
	@$(MAKE) --no-print-directory build/mpbuild-san mpbuild $(UNITBIN) $(FUZZCHECK)
	@MPBUILD=$(CURDIR)/build/mpbuild-san UNITDIR=$(CURDIR)/build/unit FUZZDIR=$(CURDIR)/build/fuzzcheck sh tests/run.sh

# each harness for FUZZTIME seconds, from the stored corpus; stops at the first crash
fuzz:
	@$(MAKE) --no-print-directory $(FUZZ:%=build/fuzz/%)
	@for f in $(FUZZ); do \
		mkdir -p build/fuzz/corpus/$$f && echo "fuzz: $$f for $(FUZZTIME) s" && \
		build/fuzz/$$f -max_total_time=$(FUZZTIME) -close_fd_mask=2 -timeout=10 -rss_limit_mb=4096 \
			-artifact_prefix=build/fuzz/crash-$$f- build/fuzz/corpus/$$f tests/fuzz/corpus/$$f || exit 1; \
	done

demo: deps
	@$(MAKE) --no-print-directory mpbuild
	@sh examples/demo.sh

# rebuild the committed cassettes from the per-target fixture answers
cassettes: mpbuild
	python3 tests/mkcassette.py --mpbuild ./mpbuild --project . --answers examples/demo/answers --out examples/demo/cassette

install: mpbuild
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/rules/phases $(DESTDIR)$(MANDIR)/man1
	cp mpbuild $(DESTDIR)$(BINDIR)/mpbuild
	cp rules/*.yaml $(DESTDIR)$(DATADIR)/rules/
	if [ -d rules/phases ]; then cp rules/phases/* $(DESTDIR)$(DATADIR)/rules/phases/; fi
	if [ -d rules/examples ]; then rm -rf $(DESTDIR)$(DATADIR)/rules/examples && cp -R rules/examples $(DESTDIR)$(DATADIR)/rules/; fi
	rm -rf $(DESTDIR)$(DATADIR)/rules/extract && cp -R rules/extract $(DESTDIR)$(DATADIR)/rules/
	if [ -f docs/mpbuild.1 ]; then cp docs/mpbuild.1 $(DESTDIR)$(MANDIR)/man1/; fi

clean:
	rm -rf build mpbuild

.PHONY: all check demo deps install clean cassettes fuzz
