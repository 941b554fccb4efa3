package org.anode.api;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Base class for backend tensors: ownership by the current {@link TensorScope}, idempotent close,
 * use-after-close detection and a process-wide count of open tensors (the number a leak test
 * watches). Backends implement {@link #release()} to free their native memory.
 */
public abstract class AbstractTensor implements Tensor {
  private static final AtomicLong OPEN = new AtomicLong();
  private static final AtomicLong OPEN_BYTES = new AtomicLong();

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
    TensorScope.adopt(this);
  }

  /** Number of tensors of every backend created and not yet closed in this process. */
  public static long openTensors() {
    return OPEN.get();
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
    if (scope != null) {
      scope.forget(this);
    }
    release();
  }

  /** Frees the native memory. Called exactly once, by {@link #close()}. */
  protected abstract void release();

  @Override
  public String toString() {
    return getClass().getSimpleName() + shape + " " + dtype + (closed ? " (closed)" : "");
  }
}
