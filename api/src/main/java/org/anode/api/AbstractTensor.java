package org.anode.api;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Base class for backend tensors: ownership by the current {@link TensorScope}, idempotent close,
 * use-after-close detection, a process-wide count of open tensors (the number a leak test watches)
 * and their bytes in {@link LiveMemory}, and the copies to Java arrays in either precision.
 * Backends implement {@link #readFloats()} / {@link #readDoubles()} for their own dtype and {@link
 * #release()} to free their native memory.
 */
public abstract class AbstractTensor implements Tensor {
  private static final AtomicLong OPEN = new AtomicLong();
  private static final AtomicLong OPEN_BYTES = new AtomicLong();
  private static final AtomicLong CREATED_BYTES = new AtomicLong();

  private final Shape shape;
  private final DType dtype;
  private boolean closed;
  TensorScope scope;

  /** Registers the new tensor with the innermost open scope of this thread, if any. */
  protected AbstractTensor(Shape shape, DType dtype) {
    this.shape = shape;
    this.dtype = dtype;
    OPEN.incrementAndGet();
    OPEN_BYTES.addAndGet(shape.bytes(dtype));
    CREATED_BYTES.addAndGet(shape.bytes(dtype));
    LiveMemory.allocated(shape.bytes(dtype));
    TensorScope.adopt(this);
  }

  /** Number of tensors of every backend created and not yet closed in this process. */
  public static long openTensors() {
    return OPEN.get();
  }

  /**
   * Element bytes of every tensor ever created in this process (only grows): what a step allocates
   * is the difference across it, whether or not its tensors were freed before it ended.
   */
  public static long createdBytes() {
    return CREATED_BYTES.get();
  }

  /** Element bytes of every tensor created and not yet closed in this process. */
  public static long openBytes() {
    return OPEN_BYTES.get();
  }

  @Override
  public final Shape shape() {
    return shape;
  }

  @Override
  public final DType dtype() {
    return dtype;
  }

  @Override
  public final boolean isClosed() {
    return closed;
  }

  /** Throws if this tensor was closed; call before touching native memory. */
  protected final void checkOpen() {
    if (closed) {
      throw new IllegalStateException(
          "tensor " + shape + " " + dtype + " on " + backend().name() + " is closed");
    }
  }

  @Override
  public final void close() {
    if (closed) {
      return;
    }
    closed = true;
    OPEN.decrementAndGet();
    OPEN_BYTES.addAndGet(-shape.bytes(dtype));
    LiveMemory.released(shape.bytes(dtype));
    if (scope != null) {
      scope.forget(this);
    }
    release();
  }

  @Override
  public final float[] toFloatArray() {
    checkOpen();
    if (dtype == DType.FLOAT32) {
      return readFloats();
    }
    double[] d = readDoubles();
    float[] f = new float[d.length];
    for (int i = 0; i < d.length; i++) {
      f[i] = (float) d[i];
    }
    return f;
  }

  @Override
  public final double[] toDoubleArray() {
    checkOpen();
    if (dtype == DType.FLOAT64) {
      return readDoubles();
    }
    float[] f = readFloats();
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  /** The elements of a FLOAT32 tensor in row-major order; called on an open tensor. */
  protected abstract float[] readFloats();

  /** The elements of a FLOAT64 tensor in row-major order; called on an open tensor. */
  protected abstract double[] readDoubles();

  /** Frees the native memory. Called exactly once, by {@link #close()}. */
  protected abstract void release();

  @Override
  public String toString() {
    return getClass().getSimpleName() + shape + " " + dtype + (closed ? " (closed)" : "");
  }
}
