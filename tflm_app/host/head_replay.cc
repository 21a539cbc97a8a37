// Host CLI for tests/test_host_runner.py: runs the head of a model bundle on int8 hidden states.
//
//   head_replay model.fgb hidden.txt
// hidden.txt: rows of `units` integers. Prints per row the logits, ';', then the uint8 scores.
#include <cstdio>
#include <vector>

#include "head.h"
#include "model.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: head_replay model.fgb hidden.txt\n");
    return 2;
  }
  std::vector<uint8_t> storage;
  static kws::Model model;
  if (!kws::LoadModel(argv[1], &storage, &model)) {
    fprintf(stderr, "head_replay: %s\n", model.error);
    return 2;
  }
  FILE* f = fopen(argv[2], "r");
  if (f == nullptr) {
    fprintf(stderr, "head_replay: %s: cannot open\n", argv[2]);
    return 2;
  }
  const int32_t in = model.head.input_size(), classes = model.num_classes;
  int8_t x[head::kMaxWidth], logits[head::kMaxWidth], scratch[head::kScratchBytes];
  uint8_t scores[head::kMaxWidth];
  for (;;) {
    int32_t i = 0;
    for (int v = 0; i < in && fscanf(f, "%d", &v) == 1; ++i) x[i] = static_cast<int8_t>(v);
    if (i == 0) break;
    if (i != in) {
      fprintf(stderr, "head_replay: %s: partial row\n", argv[2]);
      fclose(f);
      return 2;
    }
    head::Run(model.head, x, logits, scratch);
    head::Scores(logits, classes, model.head.logit_scale, model.head.logit_zero_point, scores);
    for (int32_t c = 0; c < classes; ++c) printf("%d ", static_cast<int>(logits[c]));
    printf(";");
    for (int32_t c = 0; c < classes; ++c) printf(" %d", static_cast<int>(scores[c]));
    printf("\n");
  }
  fclose(f);
  return 0;
}
