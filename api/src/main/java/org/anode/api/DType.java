package org.anode.api;

/** Element type of a {@link Tensor}. Only the two floating-point types that training needs. */
public enum DType {
  /** IEEE 754 single precision: training and benchmarks. */
  FLOAT32(4),
  /** IEEE 754 double precision: gradient checks against finite differences. */
  FLOAT64(8);

  private final int byteSize;

  DType(int byteSize) {
    this.byteSize = byteSize;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }
}
