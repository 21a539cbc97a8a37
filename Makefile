# Two user commands: `make demo` and `make test`. Both set up what they need and are idempotent.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
APT_PACKAGES := python3-venv gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib \
	qemu-system-arm espeak-ng cmake build-essential pkg-config libglib2.0-dev sox libsndfile1 \
	clang libclang-rt-14-dev flite festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA ?=

.PHONY: setup apt venv test lint cpp-host cpp-test test-sanitize fuzz fuzz-py soak test-soak m4-test bench-m4 demo crossval bench-wakeword sketch clean

setup: apt venv

# Install only what is missing, so a second run does nothing.
apt:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "apt-get install:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "system packages: all present"; fi

venv: .venv/.stamp

.venv/.stamp: requirements.txt pyproject.toml
	[ -x $(PY) ] || python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-deps -e .
	touch $@

lint: venv
	.venv/bin/ruff check fastgrnn_tf keyword_spotting tests

cpp-host: setup
	cmake -S tflm_app -B build/host -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build/host -j2

cpp-test: cpp-host
	ctest --test-dir build/host --output-on-failure

# Every C/C++ test and kws_host built with AddressSanitizer + UndefinedBehaviorSanitizer (the first
# report fails) in build/host-asan: ctest (incl. the fuzz regression inputs), the fuzz seeds replayed,
# and kws_host on every seed model and WAV (plus inputs it must reject with exit 2).
SAN_CHECKS := address,undefined
SANITIZE := -fsanitize=$(SAN_CHECKS) -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_TARGETS := fgb_bundle wav fastgrnn_op bitmap_sparse
test-sanitize: setup
	cmake -S tflm_app -B build/host-asan -DCMAKE_BUILD_TYPE= "-DCMAKE_C_FLAGS=-O1 -g $(SANITIZE)" \
	  "-DCMAKE_CXX_FLAGS=-O1 -g $(SANITIZE)" "-DCMAKE_EXE_LINKER_FLAGS=$(SANITIZE)" \
	  "-DCMAKE_SHARED_LINKER_FLAGS=$(SANITIZE)" >/dev/null
	cmake --build build/host-asan -j2
	$(SAN_ENV) ctest --test-dir build/host-asan --output-on-failure
	$(PY) tflm_app/fuzz/make_seeds.py --out build/host-asan/seeds --seeds-tool build/host-asan/fuzz/fuzz_seeds
	@set -e; for t in $(FUZZ_TARGETS); do $(SAN_ENV) build/host-asan/fuzz/$${t}_replay build/host-asan/seeds/$$t; done
	$(SAN_ENV) tflm_app/fuzz/sanitize_kws_host.sh build/host-asan/host/kws_host build/host-asan/seeds

# libFuzzer (clang) builds of the fuzz targets in build/fuzz, each run FUZZ_SECONDS (default 60) on one
# core (FUZZ_CPU, default 1) from seeds made from real models and WAVs; report: build/fuzz/fuzz_report.txt.
FUZZ_SECONDS ?= 60
FUZZ_CPU ?= 1
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,$(SAN_CHECKS) -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz: setup
	cmake -S tflm_app -B build/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DTFLM_APP_FUZZ=ON \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_C_FLAGS=$(FUZZ_FLAGS)" "-DCMAKE_CXX_FLAGS=$(FUZZ_FLAGS)" \
	  "-DCMAKE_EXE_LINKER_FLAGS=$(SANITIZE)" "-DCMAKE_SHARED_LINKER_FLAGS=$(SANITIZE)" >/dev/null
	cmake --build build/fuzz -j2 --target fuzz_seeds $(foreach t,$(FUZZ_TARGETS),$(t)_fuzz)
	$(PY) tflm_app/fuzz/make_seeds.py --out build/fuzz/seeds --seeds-tool build/fuzz/fuzz/fuzz_seeds
	tflm_app/fuzz/run_fuzz.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_CPU)
	$(MAKE) --no-print-directory fuzz-py

# Hypothesis mutation fuzzing of the Python readers (.tflite, .fgb, WAV/FLAC/OGG; tests/test_fuzz_py.py):
# FUZZ_EXAMPLES examples per target (make test: 200); FUZZ_SEED=n another sequence; FUZZ_ARTIFACTS=dir keeps
# one input per contract break (tests/data/fuzz_regressions/README.md).
FUZZ_EXAMPLES ?= 2000
fuzz-py: venv
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz_py.py

# Long-stream soak of the C++ pipeline (tflm_app/host/kws_soak): SOAK_HOURS of audio synthesized on the fly
# from ../shared/data speech commands words and background noise (synthetic audio when absent), each hour
# the same audio: scores must not drift, no state stuck at a rail, memory flat. SOAK_MODEL defaults to a
# Google-12-size model (make_seeds.py). `make soak` runs 24 hours (~2-4 min); `make test` runs one hour
# as 4 x 15 minutes (test-soak, ~20-30 s), so that there are 3 repeats to compare.
SOAK_HOURS ?= 24
SOAK_PERIOD ?= 3600
SOAK_MODEL ?= build/soak/seeds/fgb_bundle/g12_shape.fgb
SOAK_CLIPS := $(wildcard $(addprefix ../shared/data/speech_commands_dev/,yes no up down left right on off stop go \
	bed bird cat dog happy house marvin sheila tree wow _background_noise_))
soak: cpp-host
	$(if $(filter build/soak/%,$(SOAK_MODEL)),$(PY) tflm_app/fuzz/make_seeds.py --out build/soak/seeds \
	  --seeds-tool build/host/fuzz/fuzz_seeds >/dev/null)
	build/host/host/kws_soak --model $(SOAK_MODEL) --hours $(SOAK_HOURS) --period $(SOAK_PERIOD) $(SOAK_CLIPS)
test-soak:
	$(MAKE) --no-print-directory soak SOAK_HOURS=4 SOAK_PERIOD=900

m4-test: setup
	$(MAKE) -C tflm_app/m4 test

bench-m4: setup
	$(MAKE) -C tflm_app/m4 bench

test: setup lint cpp-test test-sanitize test-soak m4-test
	$(PY) -m pytest -q -ra

demo: setup cpp-host bench-m4
	$(PY) -m keyword_spotting.demo $(if $(DATA),--data $(DATA),)

# Speaker 5-fold cross-validation of the Google-12 job (about 30 min on 2 cores): float / pruned / QAT / int8
# accuracy on every clip of the folder -> build/crossval/cv_report.json. Reruns reuse finished folds.
CV_DATA := $(if $(DATA),$(DATA),../shared/data/speech_commands_dev)
crossval: setup
	$(PY) -m keyword_spotting.crossval_cli --config keyword_spotting/configs/google12.yaml --data $(CV_DATA) \
	  --folds 5 --out build/crossval --no-progress

# Real-speech wake-word benchmark (not part of `make test`): each word of ../shared/data/wakewords trained from
# text, measured on its real recordings in 5 h of real speech + noise per condition -> build/bench/wakeword.json.
bench-wakeword: setup cpp-host
	$(PY) -m keyword_spotting.bench_wakeword_cli --no-progress $(BENCH_ARGS)

# Gather the firmware sources and the demo's model into the Arduino sketch folder (see BUILD.md).
sketch: setup
	tflm_app/arduino/prepare_sketch.sh --model-dir build/demo

# Opt-in checks against sources you fetch yourself (never needed by `make test`; see BUILD.md 6-7):
# the sketch's model path on the emulated Cortex-M4 with TFLM + CMSIS-NN, compared with kws_host, counted
# into build/bench/m4_counts.json ["firmware"]; and every unit of the sketch compiled with the Arduino core.
MODEL_DIR ?= build/demo
firmware-m4: setup cpp-host
	$(MAKE) -f tflm_app/m4/firmware/Makefile TFLM_DIR="$(TFLM_DIR)" MODEL_DIR="$(MODEL_DIR)" $(if $(WAV),WAV="$(WAV)")

# Cortex-M4 soak (opt-in, TFLM_DIR as firmware-m4): M4_SOAK_MINUTES of audio (real wake words of the model's
# phrase among real speech in real noise from ../shared/data, synthetic when absent) through the firmware path on
# QEMU and through kws_host; scores and detections must be byte-identical -> build/soak_m4/soak_m4.json.
M4_SOAK_MINUTES ?= 10
FW_MAKE = $(MAKE) --no-print-directory -f tflm_app/m4/firmware/Makefile TFLM_DIR="$(TFLM_DIR)" MODEL_DIR="$(MODEL_DIR)"
soak-m4: setup cpp-host
	$(FW_MAKE) sketch-tree
	$(FW_MAKE) firmware-elf
	$(PY) tflm_app/m4/firmware/soak_m4.py --minutes $(M4_SOAK_MINUTES) --model-dir $(MODEL_DIR) \
	  --elf build/firmware_m4/firmware.elf --kws-host build/host/host/kws_host --out build/soak_m4

.PHONY: firmware-m4 sketch-check soak-m4
sketch-check:
	$(MAKE) -f tflm_app/arduino/sketch_check/Makefile ARDUINO_CORE="$(ARDUINO_CORE)" \
	  TFLM_ARDUINO="$(TFLM_ARDUINO)" MODEL_DIR="$(MODEL_DIR)" $(if $(CXX_STD),CXX_STD="$(CXX_STD)")

clean:
	rm -rf build
