package org.anode.api;

/**
 * An n-dimensional array owned by a {@link Backend}: an opaque handle to native memory.
 *
 * <p>Memory is released deterministically by {@link #close()}, never by the garbage collector. A
 * tensor created while a {@link TensorScope} is open on the current thread belongs to that scope
 * and is closed with it unless {@link TensorScope#detach detached}. Using a closed tensor throws
 * {@link IllegalStateException}.
 */
public interface Tensor extends AutoCloseable {

  Shape shape();

  DType dtype();

  /** The backend whose kernels created this tensor and operate on it. */
  Backend backend();

  /** Bytes of element storage: {@code numel × dtype size}. */
  default long bytes() {
    return shape().bytes(dtype());
  }

  /** The elements in row-major (C) order, converted to float if needed. */
  float[] toFloatArray();

  /** The elements in row-major (C) order, converted to double if needed. */
  double[] toDoubleArray();

  /** The single element of a tensor with one element. */
  default double item() {
    if (shape().numel() != 1) {
      throw new IllegalArgumentException(
          "item: tensor of shape " + shape() + " has " + shape().numel() + " elements, not 1");
    }
    return toDoubleArray()[0];
  }

  boolean isClosed();

  /** Releases the native memory now. Idempotent. */
  @Override
  void close();
}
