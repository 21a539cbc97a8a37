# Two user commands: `make demo` and `make test`. Both set up what they need and are idempotent.
SHELL := /bin/bash
PY := .venv/bin/python
PIP := .venv/bin/pip
APT_PACKAGES := python3-venv gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib \
	qemu-system-arm espeak-ng cmake build-essential pkg-config libglib2.0-dev sox libsndfile1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DATA ?=

.PHONY: setup apt venv test lint cpp-host cpp-test m4-test bench-m4 demo crossval bench-wakeword sketch clean

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

m4-test: setup
	$(MAKE) -C tflm_app/m4 test

bench-m4: setup
	$(MAKE) -C tflm_app/m4 bench

test: setup lint cpp-test m4-test
	$(PY) -m pytest -q -ra

demo: setup cpp-host bench-m4
	$(PY) -m keyword_spotting.demo $(if $(DATA),--data $(DATA),)

# Speaker 5-fold cross-validation of the Google-12 job (about 30 min on 2 cores): float / pruned / QAT / int8
# accuracy on every clip of the folder -> build/crossval/cv_report.json. Reruns reuse finished folds.
CV_DATA := $(if $(DATA),$(DATA),../shared/data/speech_commands_dev)
crossval: setup
	$(PY) -m keyword_spotting.crossval --config keyword_spotting/configs/google12.yaml --data $(CV_DATA) \
	  --folds 5 --out build/crossval --no-progress

# Real-speech wake-word benchmark (not part of `make test`): each word of ../shared/data/wakewords trained from
# text, measured on its real recordings in 5 h of real speech + noise per condition -> build/bench/wakeword.json.
bench-wakeword: setup cpp-host
	$(PY) -m keyword_spotting.bench_wakeword_cli --no-progress $(BENCH_ARGS)

# Gather the firmware sources and the demo's model into the Arduino sketch folder (see BUILD.md).
sketch: setup
	tflm_app/arduino/prepare_sketch.sh --model-dir build/demo

clean:
	rm -rf build
