package org.anode.autodiff;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.anode.api.Tensor;

/**
 * Counts the bytes of the tensors that tapes and checkpoints keep alive for a future backward
 * sweep: the current total and its peak. Each tensor counts once however many operations save it
 * ({@code numel × dtype size}); parameters are not activations and are never counted. This is the
 * number that the memory laws of the gradient methods (O(L·N_t), O(L)+O(N_t), …) are stated in.
 */
public final class MemoryMeter {
  private final Map<Tensor, Integer> refs = new IdentityHashMap<>();
  private final Set<Tensor> checkpoints = Collections.newSetFromMap(new IdentityHashMap<>());
  private long current;
  private long peak;
  private long checkpointCurrent;
  private long checkpointPeak;
  private final List<Limit> limits = new ArrayList<>();

  /**
   * An action run once, just before a newly retained tensor would take {@link #currentBytes()}
   * above {@code bytes}; it may release tensors (a kept {@link Segment} giving way).
   */
  public record Limit(long bytes, Runnable action) {}

  /** Watches {@code limit} until it fires or {@link #unwatch} removes it. */
  public void watch(Limit limit) {
    limits.add(limit);
  }

  /** Stops watching {@code limit} (no effect if it fired already). */
  public void unwatch(Limit limit) {
    limits.remove(limit);
  }

  /** Counts {@code t} as kept alive by one more holder. */
  public void retain(Tensor t) {
    if (!limits.isEmpty() && !refs.containsKey(t)) {
      for (Limit l : List.copyOf(limits)) {
        if (current + t.bytes() > l.bytes() && limits.remove(l)) {
          l.action().run();
        }
      }
    }
    if (refs.merge(t, 1, Integer::sum) == 1) {
      current += t.bytes();
      peak = Math.max(peak, current);
    }
  }

  /** Whether some recorded operation still holds {@code t} for its backward. */
  public boolean holds(Tensor t) {
    return refs.containsKey(t);
  }

  /** One holder of {@code t} no longer needs it; its bytes leave the count with the last one. */
  public void release(Tensor t) {
    Integer n = refs.get(t);
    if (n == null) {
      throw new IllegalStateException("MemoryMeter: release of a tensor never retained: " + t);
    }
    if (n == 1) {
      refs.remove(t);
      current -= t.bytes();
      if (checkpoints.remove(t)) {
        checkpointCurrent -= t.bytes();
      }
    } else {
      refs.put(t, n - 1);
    }
  }

  /**
   * Marks a retained tensor as a checkpoint (an ODE block's input or a revolve snapshot): its bytes
   * are also reported by {@link #checkpointBytes()} until it is released.
   */
  public void markCheckpoint(Tensor t) {
    if (!refs.containsKey(t)) {
      throw new IllegalStateException("MemoryMeter: a checkpoint must be retained first: " + t);
    }
    if (checkpoints.add(t)) {
      checkpointCurrent += t.bytes();
      checkpointPeak = Math.max(checkpointPeak, checkpointCurrent);
    }
  }

  /** Bytes of checkpoints kept alive now (included in {@link #currentBytes()}). */
  public long checkpointBytes() {
    return checkpointCurrent;
  }

  /** Largest {@link #checkpointBytes()} since creation or the last {@link #resetPeak()}. */
  public long peakCheckpointBytes() {
    return checkpointPeak;
  }

  /** Bytes kept alive now. */
  public long currentBytes() {
    return current;
  }

  /** Largest {@link #currentBytes()} since creation or the last {@link #resetPeak()}. */
  public long peakBytes() {
    return peak;
  }

  /** Number of distinct tensors kept alive now. */
  public int tensorCount() {
    return refs.size();
  }

  /** Starts a new peak measurement from the current total. */
  public void resetPeak() {
    peak = current;
    checkpointPeak = checkpointCurrent;
  }

  @Override
  public String toString() {
    return "MemoryMeter[current="
        + current
        + " B, peak="
        + peak
        + " B, checkpoints="
        + checkpointCurrent
        + " B]";
  }
}
