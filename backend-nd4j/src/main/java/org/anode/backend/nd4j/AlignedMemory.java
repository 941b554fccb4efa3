package org.anode.backend.nd4j;

import org.anode.api.DType;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Native blocks that start on a {@value #ALIGNMENT}-byte boundary, as oneDNN's own allocator makes
 * them.
 *
 * <p>Why: oneDNN's JIT kernels may store to and load from the memory they are given with
 * instructions that fault on an address that is not a multiple of the vector width. Its AVX-512
 * Winograd kernels ({@code jit_wino_4x3:avx512_core}) write their results with {@code vmovntps
 * zmm}, a non-temporal store of 64 bytes that raises a general-protection fault (SIGSEGV, {@code
 * si_code} SI_KERNEL) unless its address is 64-byte aligned. glibc's {@code malloc}, behind {@code
 * new FloatPointer(n)}, aligns to 16 bytes only, so a block's alignment, and whether the JVM died,
 * depended on where the allocator happened to place it (docs/crash-analysis.md). ONNX Runtime's CPU
 * allocator aligns to 64 bytes for the same reason.
 *
 * <p>A block is allocated {@value #ALIGNMENT} bytes longer than asked for and handed out from its
 * first aligned address; closing it frees the whole allocation.
 */
final class AlignedMemory {
  /** The alignment, in bytes: one cache line, and the width of an AVX-512 register. */
  static final int ALIGNMENT = 64;

  private AlignedMemory() {}

  /** Uninitialized memory for {@code elements} values of {@code dtype}, aligned. */
  static Pointer allocate(DType dtype, long elements) {
    long bytes = elements * dtype.byteSize();
    BytePointer raw = new BytePointer(bytes + ALIGNMENT);
    if (raw.isNull()) {
      throw new OutOfMemoryError(
          "native allocation of "
              + elements
              + " "
              + dtype
              + " values failed ("
              + bytes
              + " bytes)");
    }
    long start = alignUp(raw.address());
    return dtype == DType.FLOAT32
        ? new AlignedFloats(raw, start, elements)
        : new AlignedDoubles(raw, start, elements);
  }

  /** The first {@value #ALIGNMENT}-byte boundary at or after {@code address}. */
  static long alignUp(long address) {
    return (address + ALIGNMENT - 1) & -ALIGNMENT;
  }

  /** Whether {@code address} is on a {@value #ALIGNMENT}-byte boundary. */
  static boolean aligned(long address) {
    return (address & (ALIGNMENT - 1)) == 0;
  }

  /** Float values inside {@code raw}, from {@code start}; closing frees {@code raw}. */
  private static final class AlignedFloats extends FloatPointer {
    private final BytePointer raw;

    AlignedFloats(BytePointer raw, long start, long elements) {
      this.raw = raw;
      this.address = start;
      this.capacity = elements;
      this.limit = elements;
    }

    @Override
    public void close() {
      raw.close();
      address = 0;
    }
  }

  /** Double values inside {@code raw}, from {@code start}; closing frees {@code raw}. */
  private static final class AlignedDoubles extends DoublePointer {
    private final BytePointer raw;

    AlignedDoubles(BytePointer raw, long start, long elements) {
      this.raw = raw;
      this.address = start;
      this.capacity = elements;
      this.limit = elements;
    }

    @Override
    public void close() {
      raw.close();
      address = 0;
    }
  }
}
