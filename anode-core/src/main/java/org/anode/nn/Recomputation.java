package org.anode.nn;

/**
 * Marks a forward pass as a recomputation of one that already ran (ANODE's checkpointing, revolve,
 * the adjoint's re-evaluations of f). A recomputation must see the same numbers as the original and
 * must not change module state a second time: batch norm uses the batch statistics as before but
 * does not move its running estimates again (the ANODE PyTorch reference moves them twice per
 * iteration).
 *
 * <pre>{@code
 * try (Recomputation r = Recomputation.begin()) {
 *   block.forward(z0);   // no running-statistics update
 * }
 * }</pre>
 */
public final class Recomputation implements AutoCloseable {
  private static final ThreadLocal<int[]> DEPTH = ThreadLocal.withInitial(() -> new int[1]);
  private boolean closed;

  private Recomputation() {
    DEPTH.get()[0]++;
  }

  public static Recomputation begin() {
    return new Recomputation();
  }

  /** Whether the current thread is inside a recomputation. */
  public static boolean active() {
    return DEPTH.get()[0] > 0;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      DEPTH.get()[0]--;
    }
  }
}
