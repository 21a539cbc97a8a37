// Long-stream soak of the C++ pipeline (kws::FramePipeline with the core, as kws_host runs it): hours
// of audio synthesized on the fly (nothing stored) from real clips, pushed in microphone-sized chunks
// with the state carried throughout. Every hour replays the same audio, so a healthy pipeline gives
// every hour the same detections and scores as the first (after a settling time); it checks:
//   - no drift: each hour's scores (after --settle seconds) equal hour 1's, and its number of detections
//     too within max(2, 1%) (the detector's refractory phase may carry over an hour boundary);
//   - no lock-up: no FastGRNN unit is stuck at a rail (-128 / 127) for a whole hour unless it was
//     in hour 1, and scores keep changing (the longest run of identical scores is hour 1's);
//   - flat memory: the peak RSS after the last hour equals the one after hour 1.
//
//   kws_soak --model model.fgb [--hours 1] [--settle 10] [--seed 1] [--chunk 512] [--period 3600]
//            [clip.wav | dir]...
// Clips (16 kHz mono PCM16 WAVs, or folders of them): files over 3 s are noise beds, shorter ones
// words dropped onto the bed every ~1.5 s at random gains; without clips: chirps over noise. Some
// seconds are digital silence and some are driven into clipping, to push the state at its rails.
// --period shortens the replayed "hour" (seconds; tests). Prints one line per hour and a verdict; exit 0
// healthy, 1 a check failed, 2 bad arguments.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core_model.h"
#include "model.h"
#include "pipeline.h"
#include "wav.h"

namespace {

constexpr int kBadInput = 2;
constexpr int32_t kRate = 16000;

struct Rng {  // xorshift64*: deterministic across platforms
  uint64_t s;
  uint32_t Next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return static_cast<uint32_t>((s * 2685821657736338717ull) >> 32);
  }
  double Uniform() { return Next() / 4294967296.0; }
};

// The same hour of audio on every Reset(): noise bed + words + silences + clipped bursts.
class Synth {
 public:
  Synth(const std::vector<std::vector<int16_t>>& beds, const std::vector<std::vector<int16_t>>& words,
        uint64_t seed)
      : beds_(beds), words_(words), seed_(seed) {}

  void Reset() {
    rng_.s = seed_ * 0x9E3779B97F4A7C15ull + 1;
    t_ = 0;
    bed_ = 0;
    bed_pos_ = 0;
    word_ = -1;
    next_word_ = kRate;
  }

  void Fill(int16_t* out, size_t n) {
    for (size_t i = 0; i < n; ++i, ++t_) {
      const int64_t second = t_ / kRate;
      if (t_ % kRate == 0) {  // per second: silence (1 in 40), clipping (1 in 40), or normal gain
        const uint32_t r = rng_.Next() % 40;
        mode_ = r == 0 ? 0 : r == 1 ? 2 : 1;
        bed_gain_ = 0.05 + 0.4 * rng_.Uniform();
        (void)second;
      }
      double v = 0.0;
      if (!beds_.empty()) {
        const std::vector<int16_t>& bed = beds_[bed_];
        v += bed_gain_ * bed[bed_pos_];
        if (++bed_pos_ >= bed.size()) {
          bed_pos_ = 0;
          bed_ = (bed_ + 1) % beds_.size();
        }
      } else {
        v += bed_gain_ * 3000.0 * (rng_.Uniform() - 0.5);
      }
      if (t_ >= next_word_ && word_ < 0) {
        word_ = words_.empty() ? -2 : static_cast<int32_t>(rng_.Next() % words_.size());
        word_pos_ = 0;
        word_gain_ = 0.3 + 1.2 * rng_.Uniform();
        next_word_ = t_ + kRate / 2 + rng_.Next() % (2 * kRate);
      }
      if (word_ >= 0) {
        const std::vector<int16_t>& w = words_[static_cast<size_t>(word_)];
        v += word_gain_ * w[word_pos_];
        if (++word_pos_ >= w.size()) word_ = -1;
      } else if (word_ == -2) {  // no clips: a chirp as the "word"
        const double s = static_cast<double>(word_pos_) / kRate;
        v += 8000.0 * word_gain_ * std::sin(2 * M_PI * (200 + 1500 * s) * s);
        if (++word_pos_ >= static_cast<size_t>(kRate / 2)) word_ = -1;
      }
      if (mode_ == 0) v = 0.0;
      if (mode_ == 2) v *= 40.0;
      out[i] = static_cast<int16_t>(std::max(-32768.0, std::min(32767.0, std::round(v))));
    }
  }

 private:
  const std::vector<std::vector<int16_t>>& beds_;
  const std::vector<std::vector<int16_t>>& words_;
  uint64_t seed_;
  Rng rng_{1};
  int64_t t_ = 0;
  size_t bed_ = 0, bed_pos_ = 0, word_pos_ = 0;
  int32_t word_ = -1;
  int64_t next_word_ = 0;
  int mode_ = 1;
  double bed_gain_ = 0.2, word_gain_ = 1.0;
};

// What one hour of frames looked like.
struct HourStats {
  int64_t frames = 0;
  int64_t compared = 0;   // frames after the settling time (their window inside the hour)
  uint64_t checksum = 0;  // scores of those frames
  int64_t detections = 0;  // after settling (nothing per detection is stored: memory must stay flat)
  int32_t detections_all = 0;
  int64_t rail_values = 0;      // h entries at -128 or 127
  int32_t stuck_units = 0;      // units at one rail for the whole hour
  int64_t longest_frozen = 0;   // longest run of frames with identical scores
  long rss_kb = 0;
};

long PeakRssKb() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

bool AddClips(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return true;
  }
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return false;
  std::vector<std::string> found;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".wav") == 0) found.push_back(path + "/" + name);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  files->insert(files->end(), found.begin(), found.end());
  return true;
}

int Usage(const char* msg) {
  fprintf(stderr, "kws_soak: %s\nusage: kws_soak --model model.fgb [--hours N] [--settle S] [--seed N] "
                  "[--chunk N] [--max-clips N] [clip.wav | dir]...\n", msg);
  return kBadInput;
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  double hours = 1.0, settle_s = 10.0, period_s = 3600.0;
  long seed = 1, chunk = 512, max_clips = 400;
  std::vector<std::string> clip_files;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    auto value = [&](void) -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (strcmp(a, "--model") == 0) {
      if ((model_path = value()) == nullptr) return Usage("--model needs a file");
    } else if (strcmp(a, "--hours") == 0 || strcmp(a, "--settle") == 0 || strcmp(a, "--period") == 0) {
      const char* v = value();
      char* end = nullptr;
      const double x = v ? strtod(v, &end) : -1.0;
      if (v == nullptr || *end != '\0' || !(x > 0.0)) return Usage("--hours/--settle/--period need a positive number");
      (strcmp(a, "--hours") == 0 ? hours : strcmp(a, "--settle") == 0 ? settle_s : period_s) = x;
    } else if (strcmp(a, "--seed") == 0 || strcmp(a, "--chunk") == 0 || strcmp(a, "--max-clips") == 0) {
      const char* v = value();
      char* end = nullptr;
      const long x = v ? strtol(v, &end, 10) : -1;
      if (v == nullptr || *end != '\0' || x < 1) return Usage("--seed/--chunk/--max-clips need a positive integer");
      (strcmp(a, "--seed") == 0 ? seed : strcmp(a, "--chunk") == 0 ? chunk : max_clips) = x;
    } else if (a[0] == '-') {
      return Usage("unknown option");
    } else if (!AddClips(a, &clip_files)) {
      fprintf(stderr, "kws_soak: %s: no such file or folder\n", a);
      return kBadInput;
    }
  }
  if (model_path == nullptr) return Usage("--model is required");

  static kws::Model model;
  std::vector<uint8_t> storage;
  if (!kws::LoadModel(model_path, &storage, &model)) {
    fprintf(stderr, "kws_soak: %s\n", model.error);
    return kBadInput;
  }
  // Clips: an even spread of the list (sorted by path), at most max_clips.
  std::vector<std::vector<int16_t>> beds, words;
  const size_t step = (clip_files.size() + static_cast<size_t>(max_clips) - 1) / static_cast<size_t>(max_clips);
  for (size_t i = 0; i < clip_files.size(); i += step > 0 ? step : 1) {
    std::vector<int16_t> pcm;
    char error[256];
    if (!kws::ReadWav(clip_files[i].c_str(), kRate, &pcm, error, sizeof(error))) continue;  // not 16 kHz mono
    (pcm.size() > 3u * kRate ? beds : words).push_back(std::move(pcm));
  }

  const fastgrnn::Int8Params& p = model.step;
  std::vector<uint32_t> prepared(fastgrnn::PreparedBytes(p) / 4 + 1), scratch(fastgrnn::ScratchBytes(p) / 4 + 1);
  static kws::FramePipeline<kws::CoreModel> pipe;
  const kws::FeatureFields& ff = model.features;
  const frontend::Config cfg = kws::FrontendConfig(ff);
  if (ff.sample_rate != kRate) return Usage("the model's sample rate is not 16 kHz");
  const char* err = pipe.model().Init(p, model.head, prepared.data(), prepared.size() * 4, scratch.data(),
                                      scratch.size() * 4);
  if (err == nullptr) err = pipe.Init(&cfg, model.detector);
  if (err != nullptr) {
    fprintf(stderr, "kws_soak: %s: %s\n", model_path, err);
    return kBadInput;
  }

  // Whole hops, so that frame windows fall at the same offsets in every hour.
  const int64_t hop = ff.hop_samples;
  const int64_t hour_samples = std::max<int64_t>(1, static_cast<int64_t>(period_s * kRate) / hop) * hop;
  const int64_t settle_samples = static_cast<int64_t>(settle_s * kRate);
  const int n_hours = static_cast<int>(std::ceil(hours));
  const int32_t units = p.units, classes = model.num_classes;
  printf("kws_soak: %s, %d hour(s) of %.0f s of audio (%zu word clips, %zu noise beds), chunk %ld\n", model_path,
         n_hours, period_s, words.size(), beds.size(), chunk);
  Synth synth(beds, words, static_cast<uint64_t>(seed));
  std::vector<int16_t> buf(static_cast<size_t>(chunk));
  std::vector<HourStats> stats;
  stats.reserve(static_cast<size_t>(n_hours));
  std::vector<int8_t> at_rail(static_cast<size_t>(units));  // -1 / +1: at that rail all hour so far, 0 no
  std::vector<uint8_t> prev_scores(static_cast<size_t>(classes), 0);
  const auto t0 = std::chrono::steady_clock::now();
  for (int h = 0; h < n_hours; ++h) {
    HourStats s;
    synth.Reset();
    std::fill(at_rail.begin(), at_rail.end(), 2);  // 2: unknown yet
    int64_t frozen = 0;
    auto on_frame = [&](const kws::FrameResult& r) {
      // Where the frame's window starts in this hour's audio (< 0: it began in the previous hour).
      const int64_t start = static_cast<int64_t>(r.frame) * hop - static_cast<int64_t>(h) * hour_samples;
      ++s.frames;
      const int8_t* hstate = pipe.model().state();
      for (int32_t u = 0; u < units; ++u) {
        const int8_t v = hstate[u];
        const int8_t rail = v == 127 ? 1 : v == -128 ? -1 : 0;
        s.rail_values += rail != 0;
        int8_t& a = at_rail[static_cast<size_t>(u)];
        a = (a == 2 || a == rail) ? rail : 0;
      }
      const bool same = memcmp(prev_scores.data(), r.scores, static_cast<size_t>(classes)) == 0;
      frozen = same ? frozen + 1 : 0;
      s.longest_frozen = std::max(s.longest_frozen, frozen);
      memcpy(prev_scores.data(), r.scores, static_cast<size_t>(classes));
      if (r.detected) ++s.detections_all;
      if (start < settle_samples) return;
      ++s.compared;
      for (int32_t c = 0; c < classes; ++c) s.checksum = s.checksum * 1000003u + r.scores[c];
      if (r.detected) ++s.detections;
    };
    int64_t hour_left = h + 1 < n_hours || hours == n_hours ? hour_samples
                                                            : static_cast<int64_t>((hours - h) * hour_samples);
    while (hour_left > 0) {
      const size_t n = static_cast<size_t>(std::min<int64_t>(chunk, hour_left));
      synth.Fill(buf.data(), n);
      pipe.Push(buf.data(), n, on_frame);
      hour_left -= static_cast<int64_t>(n);
    }
    for (int8_t a : at_rail) s.stuck_units += a == 1 || a == -1;
    s.rss_kb = PeakRssKb();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("hour %d: frames %lld, detections %d, scores checksum %016llx, h at a rail %.3f%%, stuck units %d, "
           "longest frozen scores %lld frames, peak RSS %ld KB, %.1f s elapsed\n",
           h + 1, static_cast<long long>(s.frames), s.detections_all, static_cast<unsigned long long>(s.checksum),
           100.0 * static_cast<double>(s.rail_values) / static_cast<double>(s.frames * units), s.stuck_units,
           static_cast<long long>(s.longest_frozen), s.rss_kb, elapsed);
    fflush(stdout);
    stats.push_back(std::move(s));
  }
  int failures = 0, compared = 0;
  const HourStats& first = stats.front();
  for (size_t h = 1; h < stats.size(); ++h) {
    const HourStats& s = stats[h];
    if (s.compared != first.compared) continue;  // a partial last hour is not compared
    ++compared;
    if (s.checksum != first.checksum) {
      printf("FAIL drift: hour %zu's scores differ from hour 1's on the same audio\n", h + 1);
      ++failures;
    }
    // Detections may move by the detector's refractory phase carried over the hour boundary, not in rate.
    const int64_t n1 = first.detections, n = s.detections;
    if (std::llabs(n - n1) > std::max<int64_t>(2, n1 / 100)) {
      printf("FAIL drift: hour %zu has %lld detections, hour 1 %lld (same audio)\n", h + 1, static_cast<long long>(n),
             static_cast<long long>(n1));
      ++failures;
    }
    if (s.stuck_units > first.stuck_units || s.longest_frozen > first.longest_frozen) {
      printf("FAIL lock-up: hour %zu has %d units stuck at a rail (hour 1: %d), scores frozen for %lld frames "
             "(hour 1: %lld)\n", h + 1, s.stuck_units, first.stuck_units, static_cast<long long>(s.longest_frozen),
             static_cast<long long>(first.longest_frozen));
      ++failures;
    }
    if (s.rss_kb > first.rss_kb) {
      printf("FAIL memory: peak RSS grew from %ld KB (hour 1) to %ld KB (hour %zu)\n", first.rss_kb, s.rss_kb, h + 1);
      ++failures;
    }
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  printf("%s: %d hour(s), %lld frames in %.1f s (%.0fx real time)%s\n", failures ? "FAIL" : "OK", n_hours,
         static_cast<long long>(pipe.frames()), elapsed, hours * period_s / elapsed,
         compared == 0 ? " (no full hour after the first: nothing compared)"
         : failures == 0 ? ", every hour equal to hour 1 after settling, no stuck state, flat memory" : "");
  return failures ? 1 : 0;
}
