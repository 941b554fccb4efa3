package org.anode.nn;

import org.anode.api.Pool2dSpec;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** Average pooling over windows of NCHW input (padding counts as zeros). */
public final class AvgPool2d extends Module {
  private final Pool2dSpec spec;

  public AvgPool2d(Pool2dSpec spec) {
    this.spec = spec;
  }

  /** Non-overlapping square windows of {@code kernel}, as {@code F.avg_pool2d(x, kernel)}. */
  public AvgPool2d(int kernel) {
    this(Pool2dSpec.of(kernel));
  }

  @Override
  public Variable forward(Variable x) {
    return Ops.avgPool2d(x, spec);
  }
}
