# Included by ../Makefile: the instruction-count benchmark and the footprint of the pipeline.
# Another model shape / framing: BENCH_TAG=name BENCH_SHAPE="--units 128 --w-rank 20 --u-rank 32 --hop 320
# --window 480" (make_bench_header.py's flags) -> build/m4/bench-name/, build/bench/m4_counts_name.json.
BENCH_TAG ?=
BENCH_SHAPE ?=
ifneq ($(strip $(BENCH_SHAPE)),)
ifeq ($(strip $(BENCH_TAG)),)
$(error BENCH_SHAPE needs BENCH_TAG (the name of its build folder and JSON))
endif
endif
BENCH_DIR := $(BUILD)/bench$(if $(BENCH_TAG),-$(BENCH_TAG))
BENCH_GEN := $(BENCH_DIR)/gen/bench_model.h
BENCH_JSON := $(ROOT)/build/bench/m4_counts$(if $(BENCH_TAG),_$(BENCH_TAG)).json
DATA ?= $(abspath $(ROOT)/../shared/data)
# The M4 path is benchmarked once ../variants.txt lists Cortex-M4 siblings.
BENCH_IMPLS := reference $(if $(VARIANTS_M4),m4)

$(BENCH_GEN): $(M4_DIR)/bench/make_bench_header.py $(wildcard $(ROOT)/fastgrnn_tf/int8/quantize.py $(ROOT)/fastgrnn_tf/int8/head_oracle.py \
	$(ROOT)/keyword_spotting/audio_io.py)
	@mkdir -p $(@D)
	cd $(ROOT) && TF_CPP_MIN_LOG_LEVEL=3 $(PY) $< $@ --data $(DATA) $(BENCH_SHAPE) 2>&1 | grep -v "^WARNING: All log\|^I0000\|^To enable\|^E0000" || true
	@test -f $@

# bench_rule(impl)
define BENCH_RULE
$(BENCH_DIR)/obj/$(1)/%.o: $(M4_DIR)/bench/%.cc $(BENCH_GEN)
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXFLAGS) -Werror -I$(BENCH_DIR)/gen -MMD -MP -c $$< -o $$@
$(BENCH_DIR)/bench_$(1).elf: $(BENCH_DIR)/obj/$(1)/bench_main.o $(STARTUP_OBJ) $(call lib_a,$(1))
	$$(call link_elf,$$@,$$<,$(1))
$(BENCH_DIR)/pipeline_size_$(1).elf: $(BENCH_DIR)/obj/$(1)/pipeline_size_main.o $(STARTUP_OBJ) $(call lib_a,$(1))
	$$(call link_elf,$$@,$$<,$(1),min)
$(BENCH_DIR)/bench_$(1).counts: $(BENCH_DIR)/bench_$(1).elf $(PLUGIN)
	set -o pipefail; cd $(ROOT) && $(M4_DIR)/count_qemu.sh $$@.tmp $$< all | tee $(BENCH_DIR)/bench_$(1).log
	mv $$@.tmp $$@
$(BENCH_DIR)/bench_$(1).profile: $(BENCH_DIR)/bench_$(1).elf $(PLUGIN)
	cd $(ROOT) && $(M4_DIR)/count_qemu.sh --profile 1 $$@.tmp $$< profile >/dev/null
	mv $$@.tmp $$@
$(BENCH_DIR)/bench_$(1).pipeprofile: $(BENCH_DIR)/bench_$(1).elf $(PLUGIN)
	cd $(ROOT) && $(M4_DIR)/count_qemu.sh --profile 10 $$@.tmp $$< all >/dev/null
	mv $$@.tmp $$@
endef
$(foreach i,reference m4,$(eval $(call BENCH_RULE,$(i))))
# Header dependencies of the benchmark objects (pipeline.h, core_model.h, ...).
-include $(shell find $(BENCH_DIR)/obj -name '*.d' 2>/dev/null)

BENCH_OUTPUTS := $(foreach i,$(BENCH_IMPLS),$(BENCH_DIR)/bench_$(i).counts \
	$(BENCH_DIR)/bench_$(i).profile $(BENCH_DIR)/bench_$(i).pipeprofile $(BENCH_DIR)/pipeline_size_$(i).elf)

bench: $(BENCH_OUTPUTS)
	@mkdir -p $(dir $(BENCH_JSON))
	cd $(ROOT) && $(PY) $(M4_DIR)/bench/report.py --build $(BENCH_DIR) --impls $(BENCH_IMPLS) \
		--out $(BENCH_JSON)

size: $(foreach i,$(BENCH_IMPLS),$(BENCH_DIR)/pipeline_size_$(i).elf)
	@echo "nRF52840 pipeline footprint (flash = text + data, RAM = data + bss; 1 MB / 256 KB):"
	@$(SIZE) $^
