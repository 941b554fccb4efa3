package org.anode.api;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The live-bytes meter: every byte of tensor memory allocated and not yet freed in this process, on
 * every backend, current and peak. It is the second of anode's two memory meters; the tape's {@code
 * MemoryMeter} counts only what backward will read (saved bytes), this one counts what the process
 * actually holds.
 *
 * <p>{@link AbstractTensor} reports each tensor's elements when it is created and when it closes,
 * so a backend reports nothing for its tensors; it reports only storage beyond them ({@link
 * #allocated} / {@link #released}): scratch buffers inside a kernel, a second layout of a tensor
 * while it is converted. Two atomic additions per tensor: cheap enough to be always on. The meter
 * is process-wide (all threads); {@link #resetPeak()} starts a new measurement.
 */
public final class LiveMemory {
  private static final AtomicLong CURRENT = new AtomicLong();
  private static final AtomicLong PEAK = new AtomicLong();

  private LiveMemory() {}

  /** Counts {@code bytes} of storage that a backend allocated beyond its tensors' elements. */
  public static void allocated(long bytes) {
    long now = CURRENT.addAndGet(bytes);
    PEAK.accumulateAndGet(now, Math::max);
  }

  /** Counts the release of storage reported by {@link #allocated}. */
  public static void released(long bytes) {
    CURRENT.addAndGet(-bytes);
  }

  /** Bytes allocated and not yet freed now. */
  public static long currentBytes() {
    return CURRENT.get();
  }

  /** The largest {@link #currentBytes()} since the process started or {@link #resetPeak()}. */
  public static long peakBytes() {
    return PEAK.get();
  }

  /** Starts a new peak from the current bytes; returns the peak that ended. */
  public static long resetPeak() {
    return PEAK.getAndSet(CURRENT.get());
  }
}
