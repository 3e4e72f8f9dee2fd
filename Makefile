# octet - one GNU Makefile.
#   make            library and the octet program (./octet)
#   make test       unit, kernel, golden and end-to-end tests, in the optimized build and under ASan+UBSan
#   make asan       the octet program and tests built with AddressSanitizer + UndefinedBehaviorSanitizer
#   make clean
# Variables: CC, O (optimisation flags), WERROR=1 (warnings as errors; CI sets it).

.DEFAULT_GOAL := all

CC      ?= cc
O       ?= -O2
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
           -Wcast-qual -Wdouble-promotion -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
INC     := -Iinclude -Isrc
CFLAGS_BASE := $(CSTD) $(WARN) $(INC) -g -fno-fast-math -ffp-contract=off -pthread
LDLIBS  := -lm -pthread -ljansson
# octet serve: libmicrohttpd (HTTP; Debian's libmicrohttpd-dev), JSON through jansson above
SERVER_LDLIBS := -lmicrohttpd

# Kernel sets (src/kernels/kset.h): one folder each under src/kernels/, compiled with its own flags, chosen by the
# target architecture (the compiler's target, so a cross compiler picks its own: make CC=aarch64-linux-gnu-gcc).
# The ref folder is portable and always built.
ARCH    ?= $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))
ifeq ($(ARCH),x86_64)
KSETS   := avx2 avxvnni avx512
endif
KFLAGS_avx2 := -mavx2 -mfma -mf16c
# avxvnni: AVX2 + AVX-VNNI (VEX-encoded VPDPBUSD on ymm; Alder Lake and later, Zen 5) for CPUs without AVX-512
KFLAGS_avxvnni := $(KFLAGS_avx2) -mavxvnni
KFLAGS_avx512 := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx2 -mfma -mf16c
KSET_SRC := $(sort $(foreach k,$(KSETS),$(wildcard src/kernels/$(k)/*.c)))

# Variants: rel (optimized) and asan (sanitizers). Objects live under build/<variant>/.
REL_CFLAGS  := $(CFLAGS_BASE) $(O)
ASAN_CFLAGS := $(CFLAGS_BASE) -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
ASAN_LDFLAGS := -fsanitize=address,undefined

LIB_SRC  := $(sort $(wildcard src/core/*.c src/format/*.c src/tensor/*.c src/kernels/*.c src/kernels/ref/*.c src/model/int/*.c \
                              src/model/*.c src/text/*.c) $(filter-out src/dist/mpi.c,$(wildcard src/dist/*.c)))
CLI_SRC  := $(sort $(wildcard app/cli/*.c app/server/*.c))
TEST_SRC := $(sort $(wildcard tests/unit/*.c tests/kernels/*.c tests/fault/*.c))
TEST_COMMON := $(wildcard tests/common/*.c)

# kset_rule VARIANT SET CFLAGS [COMPILER]: the set's folder compiled with its flags
define kset_rule
build/$(1)/src/kernels/$(2)/%.o: src/kernels/$(2)/%.c
	@mkdir -p $$(@D)
	$(if $(4),$(4),$$(CC)) $(3) $$(KFLAGS_$(2)) -MMD -MP -c $$< -o $$@
endef

define variant
$(1)_LIB_OBJ := $$(patsubst %.c,build/$(1)/%.o,$$(LIB_SRC) $$(KSET_SRC))
$(1)_CLI_OBJ := $$(patsubst %.c,build/$(1)/%.o,$$(CLI_SRC))
$(1)_TESTS   := $$(patsubst %.c,build/$(1)/%,$$(TEST_SRC))

$$(foreach k,$$(KSETS),$$(eval $$(call kset_rule,$(1),$$(k),$$($(2)))))

build/$(1)/%.o: %.c
	@mkdir -p $$(@D)
	$$(CC) $$($(2)) -MMD -MP -c $$< -o $$@

build/$(1)/liboctet.a: $$($(1)_LIB_OBJ)
	@rm -f $$@
	ar rcs $$@ $$^

build/$(1)/octet: $$($(1)_CLI_OBJ) build/$(1)/liboctet.a
	$$(CC) $$($(3)) -o $$@ $$^ $(LDLIBS) $(SERVER_LDLIBS)

build/$(1)/tests/%: tests/%.c build/$(1)/liboctet.a $(TEST_COMMON) tests/test.h
	@mkdir -p $$(@D)
	$$(CC) $$($(2)) -Itests -o $$@ $$< $(TEST_COMMON) build/$(1)/liboctet.a $$($(3)) $(LDLIBS)

-include $$($(1)_LIB_OBJ:.o=.d) $$($(1)_CLI_OBJ:.o=.d)
endef

# tests/unit/test_powercap.c compiles the command line's powercap reader (app code, not in liboctet.a) into itself
build/rel/tests/unit/test_powercap build/asan/tests/unit/test_powercap build/tsan/tests/unit/test_powercap: \
    app/cli/powercap.c app/cli/powercap.h

TSAN_CFLAGS := $(CFLAGS_BASE) -O1 -fsanitize=thread -fno-omit-frame-pointer
TSAN_LDFLAGS := -fsanitize=thread

REL_LDFLAGS :=
$(eval $(call variant,rel,REL_CFLAGS,REL_LDFLAGS))
$(eval $(call variant,asan,ASAN_CFLAGS,ASAN_LDFLAGS))
$(eval $(call variant,tsan,TSAN_CFLAGS,TSAN_LDFLAGS))

.PHONY: all asan tsan test test-rel test-asan clean tests-build
all: octet

# copy then rename: a running ./octet keeps its old file ("text file busy" otherwise)
octet: build/rel/octet
	cp $< $@.tmp && mv -f $@.tmp $@

asan: build/asan/octet $(asan_TESTS)

# make tsan: the unit, kernel and fault tests built with ThreadSanitizer, and run
tsan: build/tsan/octet $(tsan_TESTS)
	@TSAN_OPTIONS=halt_on_error=1 tests/run.sh --variant tsan

tests-build: octet $(rel_TESTS) build/asan/octet $(asan_TESTS) build/intonly/octet

test: tests-build
	@tests/run.sh

clean:
	rm -rf build octet

# make fuzz: one libFuzzer program per fuzz/*.c (clang), linked with the library compiled for coverage and
# ASan+UBSan under build/fuzz/. Run e.g.: build/fuzz/fuzz_gguf fuzz/corpus/gguf -max_total_time=120
FUZZ_CC     ?= clang
FUZZ_CFLAGS := $(CSTD) $(INC) -g -O1 -ffp-contract=off -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined -pthread
fuzz_LIB_OBJ := $(patsubst %.c,build/fuzz/%.o,$(LIB_SRC) $(KSET_SRC))
fuzz_PROGS   := $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/*.c))
$(foreach k,$(KSETS),$(eval $(call kset_rule,fuzz,$(k),$(FUZZ_CFLAGS),$(FUZZ_CC))))
build/fuzz/src/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/%: fuzz/%.c $(fuzz_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(fuzz_LIB_OBJ) $(LDLIBS)
# the server's request parser: the parser, the chat formats, and the library (grammars and JSON schemas)
build/fuzz/fuzz_server_request: fuzz/fuzz_server_request.c app/server/request.c app/server/chat_template.c \
    $(fuzz_LIB_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Iapp/server -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
# the command line's parsers: opts.c with the library
build/fuzz/fuzz_cli: fuzz/fuzz_cli.c app/cli/opts.c $(fuzz_LIB_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
.PHONY: fuzz fuzz-smoke
fuzz: $(fuzz_PROGS)

# make fuzz-smoke: every fuzz target for FUZZ_SECONDS (default 20) on a copy of its seed corpus; a crash, leak
# or timeout fails (the input is kept under build/fuzz/crashes/ and becomes a regression seed).
FUZZ_SECONDS ?= 20
fuzz-smoke: $(fuzz_PROGS)
	@tests/fuzz_smoke.sh $(FUZZ_SECONDS) $(fuzz_PROGS)

# make intonly: a second octet program, build/intonly/octet, whose integer per-token path (INTONLY_SRC, the
# portable integer kernels included) is compiled with -mgeneral-regs-only: GCC may not use FP or vector registers
# there, so any floating point in those files fails the build (the proof that --exec int needs no FPU). Every
# other file is built as in rel with -DOCTET_INTONLY, and the AVX2 integer kernels are left out of the link, so
# --exec int runs the portable kernels; its logits must equal the normal build's byte for byte
# (tests/golden/int_logits.sh).
INTONLY_SRC    := src/model/int/forward_int.c src/model/int/rope_int.c src/model/matmul.c $(wildcard src/kernels/ref/int*_ref.c)
INTONLY_GR     := $(CSTD) $(WARN) $(INC) -O2 -mgeneral-regs-only -DOCTET_INTONLY
intonly_GR_OBJ := $(patsubst %.c,build/intonly/gr/%.o,$(INTONLY_SRC))
intonly_OBJ    := $(patsubst %.c,build/intonly/%.o,$(filter-out $(INTONLY_SRC),$(LIB_SRC)) \
                  $(filter-out src/kernels/%/int_%,$(KSET_SRC)) $(CLI_SRC))
build/intonly/gr/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(INTONLY_GR) -MMD -MP -c $< -o $@
$(foreach k,$(KSETS),$(eval $(call kset_rule,intonly,$(k),$(REL_CFLAGS) -DOCTET_INTONLY)))
build/intonly/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -DOCTET_INTONLY -MMD -MP -c $< -o $@
build/intonly/octet: $(intonly_GR_OBJ) $(intonly_OBJ)
	$(CC) -o $@ $^ $(LDLIBS) $(SERVER_LDLIBS)
-include $(intonly_GR_OBJ:.o=.d) $(intonly_OBJ:.o=.d)
.PHONY: intonly
intonly: build/intonly/octet
	@echo "integer-only program: $(CURDIR)/build/intonly/octet"

# make MPI=1: also build/mpi/octet, the MPI variant (distributed inference, docs/distributed.md). Every file is
# compiled with mpicc and -DOCTET_MPI, plus src/dist/mpi.c (the one file that includes <mpi.h>); without MPI=1
# nothing here is built and no MPI is needed. Run: mpiexec -n 2 build/mpi/octet run -p "..."
MPICC ?= mpicc
MPI_CFLAGS := $(REL_CFLAGS) -DOCTET_MPI
mpi_OBJ := $(patsubst %.c,build/mpi/%.o,$(LIB_SRC) src/dist/mpi.c $(KSET_SRC) $(CLI_SRC))
$(foreach k,$(KSETS),$(eval $(call kset_rule,mpi,$(k),$(MPI_CFLAGS),$(MPICC))))
build/mpi/%.o: %.c
	@mkdir -p $(@D)
	$(MPICC) $(MPI_CFLAGS) -MMD -MP -c $< -o $@
build/mpi/octet: $(mpi_OBJ)
	$(MPICC) -o $@ $^ $(LDLIBS) $(SERVER_LDLIBS)
.PHONY: mpi
mpi: build/mpi/octet
ifeq ($(MPI),1)
.DEFAULT_GOAL := all
all: build/mpi/octet
-include $(mpi_OBJ:.o=.d)
endif

# make bench: the fixed speed matrix (bench/run_bench.sh: TinyLlama-1.1B shape at Q8_0/Q4_0/Q4_K, float and int,
# 1 and 2 threads, pp512/tg128) as one table; models synthesized into build/bench/. LLAMA_BENCH=path adds a
# side-by-side comparison with llama.cpp. Also builds the kernel micro-benchmark build/rel/bench/bench_kernels and
# build/rel/bench/ab_exec (integer versus float execution interleaved in one process; run_bench.sh runs it).
.PHONY: bench
bench: octet build/rel/bench/bench_kernels build/rel/bench/ab_exec build/rel/bench/ab_repack build/rel/bench/ab_isa build/rel/bench/ab_grammar
	bench/run_bench.sh
build/rel/bench/bench_kernels: bench/bench_kernels.c build/rel/liboctet.a
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -Ibench -o $@ $< build/rel/liboctet.a $(LDLIBS)
build/rel/bench/ab_exec: bench/ab_exec.c bench/ab_common.h build/rel/liboctet.a
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -Ibench -o $@ $< build/rel/liboctet.a $(LDLIBS)
build/rel/bench/ab_grammar: bench/ab_grammar.c bench/ab_common.h build/rel/liboctet.a
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -Ibench -o $@ $< build/rel/liboctet.a $(LDLIBS)
build/rel/bench/ab_repack: bench/ab_repack.c bench/ab_common.h build/rel/liboctet.a
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -Ibench -o $@ $< build/rel/liboctet.a $(LDLIBS)
build/rel/bench/ab_isa: bench/ab_isa.c bench/ab_common.h build/rel/liboctet.a
	@mkdir -p $(@D)
	$(CC) $(REL_CFLAGS) -Ibench -o $@ $< build/rel/liboctet.a $(LDLIBS)
