package org.anode.nn;

import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** {@code [N, ...] → [N, rest]}, between convolutional features and a {@link Linear} head. */
public final class Flatten extends Module {
  @Override
  public Variable forward(Variable x) {
    return Ops.flatten(x);
  }
}
