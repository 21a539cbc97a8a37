// Host file I/O through semihosting: copies argv[1] to argv[2] with fopen/fread/fwrite
// (tests.mk compares the two files on the host).
#include <stdio.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: semihost_file_test IN OUT\n");
    return 2;
  }
  FILE* in = fopen(argv[1], "rb");
  if (in == NULL) {
    fprintf(stderr, "cannot open %s\n", argv[1]);
    return 3;
  }
  FILE* out = fopen(argv[2], "wb");
  if (out == NULL) {
    fprintf(stderr, "cannot create %s\n", argv[2]);
    fclose(in);
    return 4;
  }
  static unsigned char buf[700];  // not a divisor of typical sizes: exercises partial reads
  unsigned long total = 0;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (fwrite(buf, 1, n, out) != n) return 5;
    total += n;
  }
  fclose(in);
  fclose(out);
  printf("semihost_file_test: copied %lu bytes\n", total);
  return 0;
}
