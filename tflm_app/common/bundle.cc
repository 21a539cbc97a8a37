#include "bundle.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace fgb {

namespace {

constexpr char kMagic[4] = {'F', 'G', 'B', '1'};
constexpr size_t kAlign = 8;

size_t AlignUp(size_t v) { return (v + kAlign - 1) & ~(kAlign - 1); }

uint16_t ReadU16(const uint8_t* b) { return static_cast<uint16_t>(b[0] | (b[1] << 8)); }
uint32_t ReadU32(const uint8_t* b) {
  return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
         (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
}

}  // namespace

size_t DTypeSize(uint8_t code) {
  switch (code) {
    case 1: return 1;  // int8
    case 2: return 2;  // int16
    case 3: return 4;  // int32
    case 4: return 4;  // float32
    case 5: return 1;  // uint8
    default: return 0;
  }
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kInt8: return "int8";
    case DType::kInt16: return "int16";
    case DType::kInt32: return "int32";
    case DType::kFloat32: return "float32";
    case DType::kUint8: return "uint8";
  }
  return "unknown";
}

struct Bundle::Entry {
  const char* name;
  DType dtype;
  int32_t ndim;
  uint32_t dims[kMaxDims];
  size_t count;
  const void* data;
};

// A byte stream: a FILE* or a memory block. Read() returns false when fewer than n bytes remain.
struct Bundle::Source {
  FILE* file = nullptr;
  const uint8_t* mem = nullptr;
  size_t mem_size = 0;
  size_t pos = 0;

  bool Read(void* dst, size_t n) {
    if (file != nullptr) {
      if (n == 0) return true;
      const size_t got = fread(dst, 1, n, file);
      pos += got;
      return got == n;
    }
    if (mem_size - pos < n) {
      pos = mem_size;
      return false;
    }
    if (n > 0) memcpy(dst, mem + pos, n);
    pos += n;
    return true;
  }
  bool AtEnd() {
    if (file != nullptr) {
      uint8_t probe;
      return fread(&probe, 1, 1, file) == 0;
    }
    return pos == mem_size;
  }
};

size_t Bundle::StorageBytes(size_t file_bytes, uint32_t count) {
  // Entry table, then per entry: name + NUL padded to 8, data padded to 8; plus base alignment.
  return AlignUp(static_cast<size_t>(count) * sizeof(Entry)) + file_bytes +
         static_cast<size_t>(count) * (1 + 2 * (kAlign - 1)) + kAlign;
}

bool Bundle::Fail(const char* fmt, ...) {
  int n = snprintf(error_, sizeof(error_), "%s: ", label_);
  if (n < 0) n = 0;
  if (static_cast<size_t>(n) >= sizeof(error_)) return false;
  va_list args;
  va_start(args, fmt);
  vsnprintf(error_ + n, sizeof(error_) - static_cast<size_t>(n), fmt, args);
  va_end(args);
  return false;
}

bool Bundle::Load(Source* src, void* storage, size_t capacity) {
  entries_ = nullptr;
  count_ = 0;
  error_[0] = '\0';

  uint8_t header[8];
  if (!src->Read(header, sizeof(header))) return Fail("truncated header (need 8 bytes)");
  if (memcmp(header, kMagic, 4) != 0) return Fail("bad magic (expected \"FGB1\")");
  const uint32_t count = ReadU32(header + 4);

  // Carve the storage: aligned base, entry table, then names and data.
  const uintptr_t raw = reinterpret_cast<uintptr_t>(storage);
  const size_t skip = AlignUp(raw) - raw;
  if (capacity < skip) return Fail("storage of %u bytes too small", static_cast<unsigned>(capacity));
  uint8_t* base = static_cast<uint8_t*>(storage) + skip;
  const size_t avail = capacity - skip;
  if (static_cast<uint64_t>(count) * sizeof(Entry) > avail) {
    return Fail("storage of %u bytes too small for %u entries", static_cast<unsigned>(capacity),
                static_cast<unsigned>(count));
  }
  Entry* table = reinterpret_cast<Entry*>(base);
  size_t used = AlignUp(count * sizeof(Entry));

  for (uint32_t e = 0; e < count; ++e) {
    uint8_t len_bytes[2];
    if (!src->Read(len_bytes, 2)) return Fail("entry %u: truncated name length", static_cast<unsigned>(e));
    const uint16_t name_len = ReadU16(len_bytes);
    if (name_len == 0) return Fail("entry %u: empty name", static_cast<unsigned>(e));
    if (used + name_len + 1 > avail) return Fail("storage too small at entry %u", static_cast<unsigned>(e));
    char* name = reinterpret_cast<char*>(base + used);
    if (!src->Read(name, name_len)) return Fail("entry %u: truncated name", static_cast<unsigned>(e));
    // The spec's names are ASCII; a NUL or control byte would make two different names look alike.
    for (uint16_t i = 0; i < name_len; ++i) {
      const uint8_t c = static_cast<uint8_t>(name[i]);
      if (c < 0x20 || c > 0x7E) {
        return Fail("entry %u: name byte %u is 0x%02x, not printable ASCII", static_cast<unsigned>(e),
                    static_cast<unsigned>(i), static_cast<unsigned>(c));
      }
    }
    name[name_len] = '\0';
    used = AlignUp(used + name_len + 1);

    uint8_t type_bytes[2];
    if (!src->Read(type_bytes, 2)) return Fail("entry %u '%s': truncated dtype/ndim", static_cast<unsigned>(e), name);
    const uint8_t dtype = type_bytes[0];
    const uint8_t ndim = type_bytes[1];
    const size_t elem = DTypeSize(dtype);
    if (elem == 0) return Fail("entry %u '%s': unknown dtype %u", static_cast<unsigned>(e), name, dtype);
    if (ndim > kMaxDims) return Fail("entry %u '%s': ndim %u > %d", static_cast<unsigned>(e), name, ndim, kMaxDims);

    Entry& entry = table[e];
    entry.name = name;
    entry.dtype = static_cast<DType>(dtype);
    entry.ndim = ndim;
    uint64_t n = 1;
    for (int d = 0; d < kMaxDims; ++d) entry.dims[d] = 0;
    for (int d = 0; d < ndim; ++d) {
      uint8_t dim_bytes[4];
      if (!src->Read(dim_bytes, 4)) return Fail("entry %u '%s': truncated dims", static_cast<unsigned>(e), name);
      entry.dims[d] = ReadU32(dim_bytes);
      n *= entry.dims[d];
      if (n > 0xFFFFFFFFull) return Fail("entry %u '%s': too many elements", static_cast<unsigned>(e), name);
    }
    const uint64_t bytes = n * elem;
    if (bytes > avail - used) {
      return Fail("entry %u '%s': storage too small for %llu data bytes", static_cast<unsigned>(e), name,
                  static_cast<unsigned long long>(bytes));
    }
    entry.count = static_cast<size_t>(n);
    entry.data = base + used;
    if (!src->Read(base + used, static_cast<size_t>(bytes))) {
      return Fail("entry %u '%s': truncated data (need %llu bytes)", static_cast<unsigned>(e), name,
                  static_cast<unsigned long long>(bytes));
    }
    used = AlignUp(used + static_cast<size_t>(bytes));
    if (used > avail) used = avail;

    for (uint32_t prev = 0; prev < e; ++prev) {
      if (strcmp(table[prev].name, name) == 0) {
        return Fail("entry %u '%s': duplicate name", static_cast<unsigned>(e), name);
      }
    }
  }
  if (!src->AtEnd()) return Fail("trailing bytes after %u entries", static_cast<unsigned>(count));
  entries_ = table;
  count_ = count;
  return true;
}

bool Bundle::LoadMemory(const void* data, size_t size, const char* label, void* storage, size_t capacity) {
  snprintf(label_, sizeof(label_), "%s", label != nullptr ? label : "<memory>");
  Source src;
  src.mem = static_cast<const uint8_t*>(data);
  src.mem_size = size;
  return Load(&src, storage, capacity);
}

bool Bundle::LoadFile(const char* path, void* storage, size_t capacity) {
  snprintf(label_, sizeof(label_), "%s", path);
  entries_ = nullptr;
  count_ = 0;
  FILE* f = fopen(path, "rb");
  if (f == nullptr) return Fail("cannot open file");
  Source src;
  src.file = f;
  const bool ok = Load(&src, storage, capacity);
  fclose(f);
  return ok;
}

// The smallest entry: name length (2), a 1-byte name, dtype and ndim (2), one int8/uint8 scalar.
constexpr size_t kMinEntryBytes = 6;

bool Bundle::SizeStorage(size_t file_bytes, const uint8_t* header, std::vector<uint8_t>* storage) {
  const uint32_t count = ReadU32(header + 4);
  if (memcmp(header, kMagic, 4) != 0) return Fail("bad magic (expected \"FGB1\")");
  if (count > (file_bytes - 8) / kMinEntryBytes) {
    return Fail("header claims %u entries but the %llu bytes after it hold at most %llu",
                static_cast<unsigned>(count), static_cast<unsigned long long>(file_bytes - 8),
                static_cast<unsigned long long>((file_bytes - 8) / kMinEntryBytes));
  }
  storage->assign(StorageBytes(file_bytes, count), 0);
  return true;
}

bool Bundle::LoadMemory(const void* data, size_t size, const char* label, std::vector<uint8_t>* storage) {
  snprintf(label_, sizeof(label_), "%s", label != nullptr ? label : "<memory>");
  entries_ = nullptr;
  count_ = 0;
  if (size < 8) return Fail("truncated header (need 8 bytes)");
  if (!SizeStorage(size, static_cast<const uint8_t*>(data), storage)) return false;
  return LoadMemory(data, size, label, storage->data(), storage->size());
}

bool Bundle::LoadFile(const char* path, std::vector<uint8_t>* storage) {
  snprintf(label_, sizeof(label_), "%s", path);
  entries_ = nullptr;
  count_ = 0;
  FILE* f = fopen(path, "rb");
  if (f == nullptr) return Fail("cannot open file");
  uint8_t header[8] = {0};
  long file_bytes = -1;
  if (fseek(f, 0, SEEK_END) == 0) file_bytes = ftell(f);
  const bool have_header = fseek(f, 0, SEEK_SET) == 0 && fread(header, 1, 8, f) == 8;
  fclose(f);
  if (file_bytes < 0) return Fail("cannot determine file size");
  if (!have_header) return Fail("truncated header (need 8 bytes)");
  if (!SizeStorage(static_cast<size_t>(file_bytes), header, storage)) return false;
  return LoadFile(path, storage->data(), storage->size());
}

const Bundle::Entry* Bundle::Lookup(const char* name) const {
  for (size_t i = 0; i < count_; ++i) {
    if (strcmp(entries_[i].name, name) == 0) return &entries_[i];
  }
  return nullptr;
}

bool Bundle::Has(const char* name) const { return Lookup(name) != nullptr; }

bool Bundle::At(size_t index, Array* out) const {
  if (index >= count_) return false;
  const Entry& e = entries_[index];
  out->name = e.name;
  out->dtype = e.dtype;
  out->ndim = e.ndim;
  for (int d = 0; d < kMaxDims; ++d) out->dims[d] = e.dims[d];
  out->count = e.count;
  out->data = e.data;
  return true;
}

bool Bundle::Find(const char* name, DType dtype, Array* out) {
  const Entry* e = Lookup(name);
  if (e == nullptr) return Fail("entry '%s' not found", name);
  if (e->dtype != dtype) {
    return Fail("entry '%s' has dtype %s, expected %s", name, DTypeName(e->dtype), DTypeName(dtype));
  }
  return At(static_cast<size_t>(e - entries_), out);
}

bool Bundle::FindCount(const char* name, DType dtype, size_t count, Array* out) {
  if (!Find(name, dtype, out)) return false;
  if (out->count != count) {
    return Fail("entry '%s' has %u elements, expected %u", name, static_cast<unsigned>(out->count),
                static_cast<unsigned>(count));
  }
  return true;
}

bool Bundle::GetInt(const char* name, int32_t* value) {
  Array a;
  if (!FindCount(name, DType::kInt32, 1, &a)) return false;
  *value = a.i32()[0];
  return true;
}

bool Bundle::GetFloat(const char* name, float* value) {
  Array a;
  if (!FindCount(name, DType::kFloat32, 1, &a)) return false;
  *value = a.f32()[0];
  return true;
}

bool Bundle::GetText(const char* name, char* out, size_t capacity) {
  Array a;
  if (!Find(name, DType::kUint8, &a)) return false;
  if (capacity == 0) return Fail("entry '%s': no room for text", name);
  const size_t n = a.count < capacity - 1 ? a.count : capacity - 1;
  memcpy(out, a.data, n);
  out[n] = '\0';
  return true;
}

}  // namespace fgb
