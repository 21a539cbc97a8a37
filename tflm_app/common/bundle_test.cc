// Tests of the .fgb reader on in-memory bundles (no file I/O, so it also runs under QEMU).
#include "bundle.h"

#include <cstdint>
#include <cstring>
#include <vector>

#include "test_macros.h"

namespace {

// Builds a bundle byte by byte into a fixed buffer.
struct Writer {
  uint8_t buf[512];
  size_t n = 0;
  void U8(uint32_t v) { buf[n++] = static_cast<uint8_t>(v); }
  void U16(uint32_t v) { U8(v & 0xFF); U8(v >> 8); }
  void U32(uint32_t v) { U16(v & 0xFFFF); U16(v >> 16); }
  void Bytes(const void* p, size_t len) { memcpy(buf + n, p, len); n += len; }
  void Header(uint32_t count) { Bytes("FGB1", 4); U32(count); }
  void EntryHead(const char* name, uint8_t dtype, uint8_t ndim) {
    U16(static_cast<uint32_t>(strlen(name)));
    Bytes(name, strlen(name));
    U8(dtype);
    U8(ndim);
  }
};

uint8_t g_storage[1024];

// "a" int8 [3] = {1,-2,3}; "bb" int32 scalar = -7; "t" uint8 text "hi"; "f" float32 = 0.5; "m" int16 [2,1].
void WriteGood(Writer* w) {
  w->Header(5);
  w->EntryHead("a", 1, 1); w->U32(3); w->U8(1); w->U8(0xFE); w->U8(3);
  w->EntryHead("bb", 3, 0); w->U32(static_cast<uint32_t>(-7));
  w->EntryHead("t", 5, 1); w->U32(2); w->Bytes("hi", 2);
  const float half = 0.5f;
  w->EntryHead("f", 4, 0); w->Bytes(&half, 4);
  w->EntryHead("m", 2, 2); w->U32(2); w->U32(1); w->U16(0x8000); w->U16(5);
}

TEST(ReadsAllDtypesAligned) {
  Writer w;
  WriteGood(&w);
  fgb::Bundle b;
  EXPECT_TRUE(b.LoadMemory(w.buf, w.n, "good", g_storage + 1, sizeof(g_storage) - 1));
  EXPECT_EQ(b.size(), 5);
  fgb::Array a;
  EXPECT_TRUE(b.Find("a", fgb::DType::kInt8, &a));
  EXPECT_EQ(a.ndim, 1);
  EXPECT_EQ(a.dims[0], 3);
  EXPECT_EQ(a.i8()[1], -2);
  int32_t v = 0;
  EXPECT_TRUE(b.GetInt("bb", &v));
  EXPECT_EQ(v, -7);
  float f = 0;
  EXPECT_TRUE(b.GetFloat("f", &f));
  EXPECT_TRUE(f == 0.5f);
  char text[8];
  EXPECT_TRUE(b.GetText("t", text, sizeof(text)));
  EXPECT_EQ(strcmp(text, "hi"), 0);
  fgb::Array m;
  EXPECT_TRUE(b.FindCount("m", fgb::DType::kInt16, 2, &m));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.data) % 8, 0);
  EXPECT_EQ(m.i16()[0], -32768);
  EXPECT_EQ(m.i16()[1], 5);
  EXPECT_EQ(m.dims[1], 1);
}

TEST(FindReportsMissingAndWrongDtype) {
  Writer w;
  WriteGood(&w);
  fgb::Bundle b;
  EXPECT_TRUE(b.LoadMemory(w.buf, w.n, "good.fgb", g_storage, sizeof(g_storage)));
  fgb::Array a;
  EXPECT_FALSE(b.Find("nope", fgb::DType::kInt8, &a));
  EXPECT_CONTAINS(b.error(), "good.fgb: entry 'nope' not found");
  EXPECT_FALSE(b.Find("a", fgb::DType::kInt32, &a));
  EXPECT_CONTAINS(b.error(), "'a' has dtype int8, expected int32");
  EXPECT_FALSE(b.FindCount("a", fgb::DType::kInt8, 4, &a));
  EXPECT_CONTAINS(b.error(), "3 elements, expected 4");
}

TEST(RejectsBadMagic) {
  Writer w;
  WriteGood(&w);
  w.buf[3] = '2';
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "x.fgb: bad magic");
}

// A corrupted entry count must not size the storage (4 billion entries would be an allocation of
// hundreds of GB, an abort without exceptions): the vector forms reject it from the file size.
TEST(RejectsAnEntryCountTheBytesCannotHold) {
  Writer w;
  WriteGood(&w);
  w.buf[4] = w.buf[5] = w.buf[6] = w.buf[7] = 0xFF;
  fgb::Bundle b;
  std::vector<uint8_t> storage;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", &storage));
  EXPECT_CONTAINS(b.error(), "x.fgb: header claims 4294967295 entries");
  EXPECT_TRUE(storage.size() < 1024);
  Writer good;
  WriteGood(&good);
  EXPECT_TRUE(b.LoadMemory(good.buf, good.n, "y.fgb", &storage));
  EXPECT_EQ(b.size(), 5u);
  EXPECT_FALSE(b.LoadMemory(good.buf, 7, "z.fgb", &storage));
  EXPECT_CONTAINS(b.error(), "truncated header");
}

// Found by fuzzing (tflm_app/fuzz/regressions/fgb_bundle/name_with_nul.fgb): a name holding a NUL
// byte read as a shorter (here empty) name, so "fastgrnn.w1\0x" would have matched "fastgrnn.w1".
TEST(RejectsNamesThatAreNotPrintableAscii) {
  Writer w;
  w.Header(1);
  w.U16(3);
  w.Bytes("a\0b", 3);
  w.U8(1);
  w.U8(0);
  w.U8(5);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "entry 0: name byte 1 is 0x00, not printable ASCII");
  w.buf[11] = '\n';
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "0x0a");
  w.buf[11] = '.';
  EXPECT_TRUE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
}

TEST(RejectsTruncatedEntry) {
  Writer w;
  WriteGood(&w);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n - 1, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "entry 4 'm': truncated data");
  EXPECT_EQ(b.size(), 0);
}

TEST(RejectsUnknownDtype) {
  Writer w;
  w.Header(1);
  w.EntryHead("q", 9, 0);
  w.U32(0);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "entry 0 'q': unknown dtype 9");
}

TEST(RejectsDuplicateName) {
  Writer w;
  w.Header(2);
  w.EntryHead("dup", 3, 0); w.U32(1);
  w.EntryHead("dup", 3, 0); w.U32(2);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "entry 1 'dup': duplicate name");
}

TEST(RejectsTooSmallStorage) {
  Writer w;
  WriteGood(&w);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, 64));
  EXPECT_CONTAINS(b.error(), "too small");
  EXPECT_TRUE(fgb::Bundle::StorageBytes(w.n, 5) <= sizeof(g_storage));
  EXPECT_TRUE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, fgb::Bundle::StorageBytes(w.n, 5)));
}

TEST(RejectsTrailingBytes) {
  Writer w;
  WriteGood(&w);
  w.U8(0);
  fgb::Bundle b;
  EXPECT_FALSE(b.LoadMemory(w.buf, w.n, "x.fgb", g_storage, sizeof(g_storage)));
  EXPECT_CONTAINS(b.error(), "trailing bytes");
}

}  // namespace

int main() {
  RUN_TEST(ReadsAllDtypesAligned);
  RUN_TEST(FindReportsMissingAndWrongDtype);
  RUN_TEST(RejectsBadMagic);
  RUN_TEST(RejectsAnEntryCountTheBytesCannotHold);
  RUN_TEST(RejectsNamesThatAreNotPrintableAscii);
  RUN_TEST(RejectsTruncatedEntry);
  RUN_TEST(RejectsUnknownDtype);
  RUN_TEST(RejectsDuplicateName);
  RUN_TEST(RejectsTooSmallStorage);
  RUN_TEST(RejectsTrailingBytes);
  return TestSummary("bundle_test");
}
