# Included by ../Makefile. `make test`: startup self-tests, plugin verification, then every
# *_test.cc of the components (fastgrnn tests for both implementations) under QEMU.
TEST_DIR := $(BUILD)/tests
test_name = $(subst /,_,$(patsubst $(APP)/%,%,$(basename $(1))))

# unit_test_rule(src, impl, elf)
define UNIT_TEST_RULE
$(3): $(call obj_of,$(1),$(2)) $(STARTUP_OBJ) $(call lib_a,$(2))
	$$(call link_elf,$$@,$$<,$(2),full)
UNIT_ELFS += $(3)
endef
UNIT_ELFS :=
# Tests of fastgrnn/ run once per implementation (the M4 one once it exists); the others link
# the M4 library (their code does not depend on the FastGRNN implementation).
FASTGRNN_TESTS := $(filter $(APP)/fastgrnn/%,$(TEST_SRCS))
$(foreach t,$(filter-out $(FASTGRNN_TESTS),$(TEST_SRCS)),$(eval $(call UNIT_TEST_RULE,$(t),m4,$(TEST_DIR)/$(call test_name,$(t)).elf)))
$(if $(VARIANTS_M4),$(foreach t,$(FASTGRNN_TESTS),$(eval $(call UNIT_TEST_RULE,$(t),m4,$(TEST_DIR)/$(call test_name,$(t)).elf))))
$(foreach t,$(filter $(APP)/fastgrnn/%,$(TEST_SRCS)),$(eval $(call UNIT_TEST_RULE,$(t),reference,$(TEST_DIR)/$(call test_name,$(t))_reference.elf)))

SELF_ELFS := $(TEST_DIR)/exit_code_test.elf $(TEST_DIR)/plugin_loop_test.elf \
	$(TEST_DIR)/semihost_file_test.elf
$(TEST_DIR)/%.elf: $(BUILD)/obj/m4/tflm_app/m4/tests/%.c.o $(STARTUP_OBJ) $(call lib_a,m4)
	$(call link_elf,$@,$<,m4)

self-tests: $(SELF_ELFS) $(PLUGIN)
	@set -e; cd $(ROOT); \
	$(M4_DIR)/run_qemu.sh --timeout 30 $(TEST_DIR)/exit_code_test.elf 0; \
	set +e; $(M4_DIR)/run_qemu.sh --timeout 30 $(TEST_DIR)/exit_code_test.elf 7 >/dev/null; s=$$?; set -e; \
	if [ $$s -ne 7 ]; then echo "FAIL: exit status 7 came back as $$s"; exit 1; fi; \
	echo "startup: exit status reaches QEMU (7 -> $$s)"; \
	rm -f $(TEST_DIR)/copy.bin; \
	$(M4_DIR)/run_qemu.sh --timeout 30 $(TEST_DIR)/semihost_file_test.elf tflm_app/m4/Makefile \
	  $(TEST_DIR)/copy.bin; \
	cmp tflm_app/m4/Makefile $(TEST_DIR)/copy.bin; echo "semihosting: argv + fopen/fread/fwrite of host files OK"; \
	$(M4_DIR)/tests/check_plugin_loop.sh $(TEST_DIR)/plugin_loop_test.elf $(TEST_DIR)/plugin_loop_test.counts

unit-tests: $(UNIT_ELFS)
	@cd $(ROOT); fail=0; n=0; \
	for elf in $(UNIT_ELFS); do \
	  n=$$((n + 1)); log=$${elf%.elf}.log; \
	  $(M4_DIR)/run_qemu.sh --timeout 120 $$elf >$$log 2>&1; status=$$?; \
	  if [ $$status -eq 0 ]; then \
	    echo "PASS $$(basename $$elf) ($$(tail -n 1 $$log))"; \
	  else \
	    echo "FAIL $$(basename $$elf) (status $$status), log $$log:"; tail -n 20 $$log; fail=$$((fail + 1)); \
	  fi; \
	done; \
	echo "m4 unit tests: $$n run, $$fail failed"; test $$fail -eq 0

# The benchmark programs double as an integration test: streaming steps must end in the same
# state as one window, and the pipeline (frontend -> FastGRNN -> head -> detector) must run.
bench-smoke: $(foreach i,$(BENCH_IMPLS),$(BENCH_DIR)/bench_$(i).elf $(BENCH_DIR)/pipeline_size_$(i).elf)
	@cd $(ROOT); for elf in $(filter %/bench_reference.elf %/bench_m4.elf,$^); do \
	  $(M4_DIR)/run_qemu.sh --timeout 120 $$elf all >$${elf%.elf}.smoke.log 2>&1 \
	    || { echo "FAIL $$(basename $$elf):"; cat $${elf%.elf}.smoke.log; exit 1; }; \
	  echo "PASS $$(basename $$elf) ($$(tail -n 1 $${elf%.elf}.smoke.log))"; \
	done
	@cd $(ROOT); for elf in $(foreach i,$(BENCH_IMPLS),$(BENCH_DIR)/pipeline_size_$(i).elf); do \
	  $(M4_DIR)/run_qemu.sh --timeout 120 $$elf || { echo "FAIL $$(basename $$elf)"; exit 1; }; \
	  echo "PASS $$(basename $$elf) (100 hops of silence)"; \
	done

test: self-tests unit-tests bench-smoke size
