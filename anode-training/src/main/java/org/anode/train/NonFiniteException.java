package org.anode.train;

import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.Tensor;
import org.anode.nn.Parameter;

/**
 * A NaN or infinity in the loss, a gradient or the state about to be saved: names the epoch, the
 * step and where it appeared. Training that meets one cannot succeed by trying again (it is
 * deterministic), so it stops and keeps the last good checkpoint.
 */
public final class NonFiniteException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public NonFiniteException(String message) {
    super(message);
  }

  /**
   * Throws naming the first tensor of {@code tensors} (parameters or tensors, nulls skipped) that
   * holds NaN or infinity, {@code when} saying at which point of training.
   */
  public static void checkState(Backend backend, Map<String, ?> tensors, String when) {
    for (var e : tensors.entrySet()) {
      Tensor t = e.getValue() instanceof Parameter p ? p.value() : (Tensor) e.getValue();
      if (t == null) {
        continue;
      }
      double s = backend.sum(t, false).item();
      if (!Double.isFinite(s)) {
        throw new NonFiniteException(
            when + ": " + e.getKey() + " " + t.shape() + " holds NaN or infinity");
      }
    }
  }
}
