# The TFLM sources a FastGRNN firmware needs, from a TFLM checkout you provide (never vendored, never
# downloaded here). Included by tflm_app/tflm/real/Makefile (host library for the opt-in real-TFLM test)
# and tflm_app/m4/firmware/firmware.mk (`make firmware-m4`).
#
#   TFLM_DIR        tensorflow/tflite-micro checkout (the root holding tensorflow/lite/micro)
#   TFLM_DOWNLOADS  its third-party downloads (default $(TFLM_DIR)/tensorflow/lite/micro/tools/make/downloads:
#                   flatbuffers, gemmlowp, ruy, kissfft; for TFLM_KERNELS=cmsis_nn also cmsis, cmsis_nn), laid
#                   out as TFLM's own Makefile downloads them (third_party_downloads.inc, ext_libs/cmsis*_download.sh)
#   TFLM_KERNELS    reference | cmsis_nn (kernels/cmsis_nn/<op>.cc replaces kernels/<op>.cc, as TFLM's
#                   specialize_files.py does, and the CMSIS-NN C sources are added)
#
# The source set follows TFLM's tools/make/sources.inc (MICROLITE_CC_BASE_SRCS: tensorflow/lite/micro/*.cc,
# arena_allocator/, memory_planner/, tflite_bridge/ and the shared TFLite files), minus tests and test
# helpers, plus the kernels of the ops the sketch's resolver registers (TFLM_OPS).
TFLM_DOWNLOADS ?= $(TFLM_DIR)/tensorflow/lite/micro/tools/make/downloads
TFLM_KERNELS ?= reference
TFLM_OPS := fully_connected softmax reshape quantize dequantize

ifeq ($(wildcard $(TFLM_DIR)/tensorflow/lite/micro/micro_interpreter.h),)
$(error TFLM_DIR=$(TFLM_DIR) is not a tflite-micro checkout (no tensorflow/lite/micro/micro_interpreter.h))
endif
ifeq ($(wildcard $(TFLM_DOWNLOADS)/flatbuffers/include/flatbuffers/flexbuffers.h $(TFLM_DOWNLOADS)/gemmlowp/fixedpoint/fixedpoint.h),)
$(error TFLM_DOWNLOADS=$(TFLM_DOWNLOADS) lacks flatbuffers/ or gemmlowp/ (TFLM's third-party downloads))
endif

_TFLM_MICRO := $(TFLM_DIR)/tensorflow/lite/micro
_TFLM_TEST_HELPERS := fake_micro_context.cc mock_micro_graph.cc test_helpers.cc test_helper_custom_ops.cc \
	recording_micro_allocator.cc
TFLM_CORE_SRCS := $(filter-out %_test.cc $(addprefix $(_TFLM_MICRO)/,$(_TFLM_TEST_HELPERS)), \
	$(wildcard $(_TFLM_MICRO)/*.cc $(_TFLM_MICRO)/arena_allocator/*.cc $(_TFLM_MICRO)/memory_planner/*.cc \
	           $(_TFLM_MICRO)/tflite_bridge/*.cc)) \
	$(filter-out %/tensorflow/lite/array.cc, $(shell find $(TFLM_DIR)/tensorflow -type d \
	  \( -path $(TFLM_DIR)/tensorflow/lite/experimental -o -path $(_TFLM_MICRO) \) -prune -false \
	  -o -name '*.cc' -print -o -name '*.c' -print))

_TFLM_KERNEL_BASE := $(_TFLM_MICRO)/kernels/kernel_util.cc \
	$(foreach op,$(TFLM_OPS),$(wildcard $(_TFLM_MICRO)/kernels/$(op).cc $(_TFLM_MICRO)/kernels/$(op)_common.cc))
# -isystem: TFLM's headers are not held to our -Wall -Wextra -Werror.
TFLM_INCLUDES := -isystem $(TFLM_DIR) -isystem $(TFLM_DOWNLOADS) -isystem $(TFLM_DOWNLOADS)/gemmlowp \
	-isystem $(TFLM_DOWNLOADS)/flatbuffers/include -isystem $(TFLM_DOWNLOADS)/ruy -isystem $(TFLM_DOWNLOADS)/kissfft
TFLM_DEFINES := -DTF_LITE_STATIC_MEMORY -DTF_LITE_DISABLE_X86_NEON

ifeq ($(TFLM_KERNELS),cmsis_nn)
  ifeq ($(wildcard $(TFLM_DOWNLOADS)/cmsis_nn/Include/arm_nnfunctions.h),)
    $(error TFLM_KERNELS=cmsis_nn needs $(TFLM_DOWNLOADS)/cmsis_nn (CMSIS-NN at TFLM's pinned revision))
  endif
  _TFLM_SPECIAL := $(wildcard $(_TFLM_MICRO)/kernels/cmsis_nn/*.cc)
  TFLM_KERNEL_SRCS := $(foreach f,$(_TFLM_KERNEL_BASE),\
	$(if $(filter %/$(notdir $(f)),$(_TFLM_SPECIAL)),$(_TFLM_MICRO)/kernels/cmsis_nn/$(notdir $(f)),$(f)))
  # CMSIS-NN functions of the specialized kernels (fully_connected.cc, softmax.cc; its batched path uses
  # arm_convolve_1x1_s8_fast) and their helpers.
  _CMSIS_NN_DIRS := FullyConnectedFunctions SoftmaxFunctions NNSupportFunctions ConvolutionFunctions
  TFLM_C_SRCS := $(filter-out %_f16.c %_f32.c,$(wildcard $(foreach d,$(_CMSIS_NN_DIRS),\
	$(TFLM_DOWNLOADS)/cmsis_nn/Source/$(d)/*.c)))
  TFLM_INCLUDES += -isystem $(TFLM_DOWNLOADS)/cmsis_nn -isystem $(TFLM_DOWNLOADS)/cmsis_nn/Include \
	-isystem $(TFLM_DOWNLOADS)/cmsis/CMSIS/Core/Include
  TFLM_DEFINES += -DCMSIS_NN -DARM_NN_ENABLE_F16=0 -DARM_NN_ENABLE_F32=0
else ifeq ($(TFLM_KERNELS),reference)
  TFLM_KERNEL_SRCS := $(_TFLM_KERNEL_BASE)
  TFLM_C_SRCS :=
else
  $(error TFLM_KERNELS must be reference or cmsis_nn, got '$(TFLM_KERNELS)')
endif

TFLM_CC_SRCS := $(TFLM_CORE_SRCS) $(TFLM_KERNEL_SRCS)
