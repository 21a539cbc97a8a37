"""The export wing: Keras model -> `.tflite` with the FastGRNN custom op (`custom_op`, written by
`tflite_writer`), read back by `tflite_reader`; the builtin-only twin (`builtin`, `exact_graph`); the
`.fgb` bundle (`bundle` format, `model_bundle` whole model; `bundle_spec.md`); C arrays (`c_array`);
sizes (`size_report`); `artifacts.write_artifacts` writes all of them for one model. `bundle`,
`model_bundle` and `c_array` are numpy only; the `.tflite` modules import TensorFlow's schema."""
