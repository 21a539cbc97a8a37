#include "model.h"

#include <cstdarg>
#include <cstdio>
#include <cmath>
#include <cstring>

#include "fastgrnn_int8_bundle.h"

namespace kws {

namespace {

bool Fail(Model* m, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(m->error, sizeof(m->error), fmt, args);
  va_end(args);
  return false;
}

bool BundleFail(Model* m, fgb::Bundle* b) { return Fail(m, "%s", b->error()); }

// An optional int32 scalar: keeps *value when absent.
bool OptionalInt(fgb::Bundle* b, const char* name, int32_t* value) {
  return !b->Has(name) || b->GetInt(name, value);
}

// A feature field stored as int32 or float32 (the spec allows either).
bool FeatureFloat(fgb::Bundle* b, const char* name, float* value) {
  if (!b->Has(name)) return true;
  int32_t i = 0;
  fgb::Array a;
  if (b->Find(name, fgb::DType::kInt32, &a) && b->GetInt(name, &i)) {
    *value = static_cast<float>(i);
    return true;
  }
  return b->GetFloat(name, value);
}

bool FeatureInt(fgb::Bundle* b, const char* name, int32_t* value) {
  if (!b->Has(name)) return true;
  fgb::Array a;
  if (b->Find(name, fgb::DType::kInt32, &a)) return b->GetInt(name, value);
  float f = 0.0f;
  if (!b->GetFloat(name, &f)) return false;
  *value = static_cast<int32_t>(f);
  return true;
}

bool LoadStep(fgb::Bundle* b, Model* m) {
  return fastgrnn::LoadInt8Params(b, &m->step, nullptr, m->error, sizeof(m->error));
}

bool LoadHead(fgb::Bundle* b, Model* m) {
  head::HeadParams& hp = m->head;
  if (!b->GetInt("head.num_layers", &hp.num_layers)) return BundleFail(m, b);
  if (hp.num_layers < 1 || hp.num_layers > head::kMaxLayers) {
    return Fail(m, "%s: head.num_layers %d not in [1, %d]", b->label(), static_cast<int>(hp.num_layers),
                static_cast<int>(head::kMaxLayers));
  }
  char name[64];
  for (int i = 0; i < hp.num_layers; ++i) {
    head::FcLayer& l = hp.layers[i];
    fgb::Array a;
    snprintf(name, sizeof(name), "head.%d.weights", i);
    if (!b->Find(name, fgb::DType::kInt8, &a)) return BundleFail(m, b);
    if (a.ndim != 2) return Fail(m, "%s: %s must be 2-D [out, in]", b->label(), name);
    l.output_size = static_cast<int32_t>(a.dims[0]);
    l.input_size = static_cast<int32_t>(a.dims[1]);
    l.weights = a.i8();
    snprintf(name, sizeof(name), "head.%d.bias", i);
    if (b->Has(name)) {
      if (!b->FindCount(name, fgb::DType::kInt32, a.dims[0], &a)) return BundleFail(m, b);
      l.bias = a.i32();
    }
    struct {
      const char* key;
      int32_t* value;
    } ints[] = {{"input_zero_point", &l.input_zero_point}, {"output_zero_point", &l.output_zero_point},
                {"output_multiplier", &l.output_multiplier}, {"output_shift", &l.output_shift}};
    for (const auto& e : ints) {
      snprintf(name, sizeof(name), "head.%d.%s", i, e.key);
      if (!b->GetInt(name, e.value)) return BundleFail(m, b);
    }
    int32_t relu = 0;
    snprintf(name, sizeof(name), "head.%d.relu", i);
    if (!OptionalInt(b, name, &relu)) return BundleFail(m, b);
    l.relu = relu != 0;
  }
  if (!b->GetFloat("head.logit_scale", &hp.logit_scale)) return BundleFail(m, b);
  if (!b->GetInt("head.logit_zero_point", &hp.logit_zero_point)) return BundleFail(m, b);
  if (const char* err = head::Validate(hp)) return Fail(m, "%s: %s", b->label(), err);
  return true;
}

bool LoadFeatures(fgb::Bundle* b, Model* m) {
  FeatureFields& f = m->features;
  const bool ok = FeatureInt(b, "features.sample_rate", &f.sample_rate) &&
                  FeatureInt(b, "features.window_samples", &f.window_samples) &&
                  FeatureInt(b, "features.hop_samples", &f.hop_samples) &&
                  FeatureInt(b, "features.n_fft", &f.n_fft) && FeatureInt(b, "features.n_mels", &f.n_mels) &&
                  FeatureInt(b, "features.n_mfcc", &f.n_mfcc) && FeatureFloat(b, "features.fmin", &f.fmin) &&
                  FeatureFloat(b, "features.fmax", &f.fmax) &&
                  FeatureFloat(b, "features.log_floor", &f.log_floor) &&
                  FeatureFloat(b, "features.quant_scale", &f.quant_scale) &&
                  FeatureFloat(b, "features.quant_offset", &f.quant_offset) &&
                  FeatureFloat(b, "features.channel_norm", &f.channel_norm) &&
                  FeatureFloat(b, "features.channel_norm_smoothing", &f.channel_norm_smoothing);
  if (!ok) return BundleFail(m, b);
  if (f.sample_rate <= 0 || f.hop_samples <= 0 || f.window_samples <= 0) {
    return Fail(m, "%s: features: sample_rate, hop_samples and window_samples must be positive", b->label());
  }
  return true;
}

bool LoadDetector(fgb::Bundle* b, Model* m) {
  DetectorConfig& c = m->detector;
  if (!OptionalInt(b, "detector.window_frames", &c.window_frames) ||
      !OptionalInt(b, "detector.threshold", &c.threshold) ||
      !OptionalInt(b, "detector.refractory_frames", &c.refractory_frames) ||
      !OptionalInt(b, "detector.min_frames", &c.min_frames)) {
    return BundleFail(m, b);
  }
  fgb::Array a;
  if (!b->Find("detector.keywords", fgb::DType::kInt32, &a)) return BundleFail(m, b);
  if (a.count < 1 || a.count > static_cast<size_t>(kMaxKeywords)) {
    return Fail(m, "%s: detector.keywords must hold 1..%d class indices", b->label(),
                static_cast<int>(kMaxKeywords));
  }
  c.num_keywords = static_cast<int32_t>(a.count);
  for (int32_t i = 0; i < c.num_keywords; ++i) c.keywords[i] = a.i32()[i];
  if (const char* err = ValidateDetectorConfig(c, m->num_classes)) return Fail(m, "%s: %s", b->label(), err);
  return true;
}

// Whether the class name `s[0, len)` can be printed as is: UTF-8 (strict: no overlong forms, surrogates or
// code points past U+10FFFF) without control characters (U+0000..U+001F, U+007F..U+009F), which would break
// or forge the detection lines. Else false and `why` says which byte.
bool PrintableName(const uint8_t* s, size_t len, char* why, size_t why_size) {
  for (size_t i = 0; i < len;) {
    size_t n = 1;
    uint32_t cp = s[i], min = 0;
    if (s[i] >= 0xf0 && s[i] <= 0xf4) n = 4, cp &= 0x07, min = 0x10000;
    else if (s[i] >= 0xe0 && s[i] <= 0xef) n = 3, cp &= 0x0f, min = 0x800;
    else if (s[i] >= 0xc2 && s[i] <= 0xdf) n = 2, cp &= 0x1f, min = 0x80;
    bool utf8 = s[i] < 0x80 || n > 1;
    for (size_t k = 1; k < n && utf8; ++k) {
      utf8 = i + k < len && (s[i + k] & 0xc0) == 0x80;
      if (utf8) cp = (cp << 6) | (s[i + k] & 0x3fu);
    }
    if (!utf8 || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      snprintf(why, why_size, "is not UTF-8 (byte %d is 0x%02X)", static_cast<int>(i), static_cast<unsigned>(s[i]));
      return false;
    }
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
      snprintf(why, why_size, "holds a control character (U+%04X at byte %d)", static_cast<unsigned>(cp),
               static_cast<int>(i));
      return false;
    }
    i += n;
  }
  return true;
}

bool LoadClasses(fgb::Bundle* b, Model* m) {
  fgb::Array a;
  if (!b->Find("classes", fgb::DType::kUint8, &a)) return BundleFail(m, b);
  int32_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= a.count; ++i) {
    if (i < a.count && a.u8()[i] != '\n') continue;
    if (n >= kMaxClasses) {
      return Fail(m, "%s: more than %d class names", b->label(), static_cast<int>(kMaxClasses));
    }
    const size_t len = i - start;
    if (len == 0 || len >= static_cast<size_t>(kMaxClassName)) {
      return Fail(m, "%s: class name %d is empty or longer than %d bytes", b->label(), static_cast<int>(n),
                  static_cast<int>(kMaxClassName - 1));
    }
    char why[64];
    if (!PrintableName(a.u8() + start, len, why, sizeof(why))) {
      return Fail(m, "%s: entry 'classes': class name %d %s", b->label(), static_cast<int>(n), why);
    }
    memcpy(m->class_names[n], a.u8() + start, len);
    m->class_names[n][len] = '\0';
    ++n;
    start = i + 1;
  }
  m->num_classes = n;
  return true;
}

}  // namespace

bool ModelFromBundle(fgb::Bundle* bundle, Model* model) {
  if (!LoadStep(bundle, model) || !LoadHead(bundle, model) || !LoadFeatures(bundle, model) ||
      !LoadClasses(bundle, model) || !LoadDetector(bundle, model)) {
    return false;
  }
  const char* label = bundle->label();
  if (model->features.num_features() != model->step.input_dim) {
    return Fail(model, "%s: the features give %d values per frame but fastgrnn.opt.input_dim is %d", label,
                static_cast<int>(model->features.num_features()), static_cast<int>(model->step.input_dim));
  }
  // input.zero_point / input.scale may differ from the feature spec's: the model reads the same int8
  // codes through its own affine map (global normalization, keyword_spotting/feature_spec.md).
  if (model->head.input_size() != model->step.units) {
    return Fail(model, "%s: head input size %d differs from fastgrnn units %d", label,
                static_cast<int>(model->head.input_size()), static_cast<int>(model->step.units));
  }
  if (model->head.num_classes() != model->num_classes) {
    return Fail(model, "%s: head has %d outputs but there are %d class names", label,
                static_cast<int>(model->head.num_classes()), static_cast<int>(model->num_classes));
  }
  return true;
}

bool LoadModel(const char* path, std::vector<uint8_t>* storage, Model* model) {
  fgb::Bundle bundle;
  if (!bundle.LoadFile(path, storage)) return Fail(model, "%s", bundle.error());
  return ModelFromBundle(&bundle, model);
}

}  // namespace kws
