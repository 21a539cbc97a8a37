"""File names of an exported model's folder (what `artifacts.write_artifacts` writes). No imports, so
any tool can learn the layout without loading TensorFlow."""

MODEL_TFLITE = "model.tflite"
WINDOW_TFLITE = "model_window.tflite"
BUILTIN_TFLITE = "model_builtin.tflite"
BUILTIN_STREAM_TFLITE = "model_builtin_stream.tflite"
C_ARRAY_NAME = "model_data"  # model_data.h / model_data.cc
BUNDLE = "model.fgb"
SIZE_REPORT = "size_report.json"
