package org.anode.nn;

import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** Mean over the spatial axes: {@code [N, C, H, W] → [N, C, 1, 1]}. */
public final class GlobalAvgPool2d extends Module {
  @Override
  public Variable forward(Variable x) {
    return Ops.globalAvgPool(x);
  }
}
