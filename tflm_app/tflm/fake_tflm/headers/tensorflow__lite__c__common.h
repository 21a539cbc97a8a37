// Fake of tensorflow/lite/c/common.h (tensorflow/lite/core/c/common.h): names and fields only.
#ifndef FAKE_TFLM_COMMON_H_
#define FAKE_TFLM_COMMON_H_
#include <cstddef>
#include <cstdint>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum {
  kTfLiteNoType = 0, kTfLiteFloat32 = 1, kTfLiteInt32 = 2, kTfLiteUInt8 = 3, kTfLiteInt16 = 7, kTfLiteInt8 = 9
} TfLiteType;
typedef enum { kTfLiteNoQuantization = 0, kTfLiteAffineQuantization = 1 } TfLiteQuantizationType;
typedef enum { kTfLiteMemNone = 0, kTfLiteMmapRo, kTfLiteArenaRw } TfLiteAllocationType;
#define kTfLiteOptionalTensor (-1)
typedef struct { int size; int data[16]; } TfLiteIntArray;
typedef struct { int size; float data[8]; } TfLiteFloatArray;
typedef struct { float scale; int32_t zero_point; } TfLiteQuantizationParams;
typedef struct { TfLiteQuantizationType type; void* params; } TfLiteQuantization;
typedef struct { TfLiteFloatArray* scale; TfLiteIntArray* zero_point; int32_t quantized_dimension; }
    TfLiteAffineQuantization;
typedef union { int32_t* i32; int16_t* i16; int8_t* int8; uint8_t* uint8; char* raw; void* data; } TfLitePtrUnion;
typedef struct {
  TfLiteType type;
  TfLitePtrUnion data;
  TfLiteIntArray* dims;
  TfLiteQuantizationParams params;
  TfLiteAllocationType allocation_type;
  size_t bytes;
  TfLiteQuantization quantization;
  bool is_variable;
} TfLiteTensor;
typedef struct { TfLitePtrUnion data; TfLiteIntArray* dims; TfLiteType type; } TfLiteEvalTensor;
typedef struct { TfLiteIntArray* inputs; TfLiteIntArray* outputs; void* user_data; } TfLiteNode;
typedef struct TfLiteContext { void* impl_; } TfLiteContext;
const char* TfLiteTypeGetName(TfLiteType type);
#endif  // FAKE_TFLM_COMMON_H_
