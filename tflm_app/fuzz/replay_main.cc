// Runs a fuzz target's LLVMFuzzerTestOneInput on files, without libFuzzer: the regression inputs
// kept in tflm_app/fuzz/regressions/<target>/ (ctest, and under sanitizers in `make test-sanitize`),
// or any corpus. Arguments are files or directories (every regular file in them, sorted).
//   <target>_replay regressions/<target> build/fuzz/seeds/<target> crash-1234
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  out->clear();
  uint8_t buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out->insert(out->end(), buf, buf + n);
  fclose(f);
  return true;
}

void Collect(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    fprintf(stderr, "replay: %s: no such file or directory\n", path.c_str());
    return;
  }
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return;
  }
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return;
  std::vector<std::string> found;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || name[0] == '.' || name == "README.md") continue;
    const std::string full = path + "/" + name;
    if (stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) found.push_back(full);
  }
  closedir(d);
  std::sort(found.begin(), found.end());
  files->insert(files->end(), found.begin(), found.end());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) Collect(argv[i], &files);
  std::vector<uint8_t> data;
  size_t total = 0;
  for (const std::string& f : files) {
    if (!ReadFile(f, &data)) {
      fprintf(stderr, "replay: %s: cannot read\n", f.c_str());
      return 2;
    }
    LLVMFuzzerTestOneInput(data.empty() ? nullptr : data.data(), data.size());
    total += data.size();
  }
  printf("replay: %zu inputs (%zu bytes), no crash\n", files.size(), total);
  return 0;
}
