package org.anode.api;

import java.util.Arrays;

/**
 * An immutable tensor shape. Rank 0 is a scalar. Image tensors are NCHW: {@code [batch, channels,
 * height, width]}.
 */
public final class Shape {
  private static final Shape SCALAR = new Shape(new int[0]);

  private final int[] dims;

  private Shape(int[] dims) {
    this.dims = dims;
  }

  /** A shape with the given dimensions; each must be {@code >= 0}. */
  public static Shape of(int... dims) {
    for (int i = 0; i < dims.length; i++) {
      if (dims[i] < 0) {
        throw new IllegalArgumentException(
            "Shape.of: dimension " + i + " is negative in " + Arrays.toString(dims));
      }
    }
    return dims.length == 0 ? SCALAR : new Shape(dims.clone());
  }

  /** The rank-0 shape of a scalar. */
  public static Shape scalar() {
    return SCALAR;
  }

  public int rank() {
    return dims.length;
  }

  /** Size of dimension {@code axis}; negative axes count from the end. */
  public int dim(int axis) {
    return dims[normalizeAxis(axis)];
  }

  /** A copy of the dimensions. */
  public int[] dims() {
    return dims.clone();
  }

  /** A copy of the dimensions as {@code long[]}, for libraries that index with longs. */
  public long[] dimsAsLong() {
    long[] out = new long[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = dims[i];
    }
    return out;
  }

  /** Number of elements: the product of the dimensions (1 for a scalar). */
  public long numel() {
    long n = 1;
    for (int d : dims) {
      n *= d;
    }
    return n;
  }

  /** Bytes that a dense tensor of this shape and {@code dtype} occupies. */
  public long bytes(DType dtype) {
    return numel() * dtype.byteSize();
  }

  /** Maps a possibly negative axis into {@code [0, rank)}, or throws naming the shape. */
  public int normalizeAxis(int axis) {
    int a = axis < 0 ? axis + dims.length : axis;
    if (a < 0 || a >= dims.length) {
      throw new IllegalArgumentException(
          "axis " + axis + " is out of range for shape " + this + " of rank " + dims.length);
    }
    return a;
  }

  /** This shape with dimension {@code axis} replaced by {@code size}. */
  public Shape with(int axis, int size) {
    int[] d = dims.clone();
    d[normalizeAxis(axis)] = size;
    return of(d);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Shape s && Arrays.equals(dims, s.dims);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(dims);
  }

  @Override
  public String toString() {
    return Arrays.toString(dims);
  }
}
