"""The int8 wing: numpy only, never TensorFlow. The contract with the C++ kernel is
`int8_step_spec.md`; `oracle` implements it bit for bit, `head_oracle` the int8 FULLY_CONNECTED head
and the detector scores, `model` the whole model (step + head), `quantize` float -> int8 parameters,
`sparse_weights` the bitmap-sparse weight storage."""
