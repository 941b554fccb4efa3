package org.anode.nn;

import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** {@code max(x, 0)} as a module. */
public final class ReLU extends Module {
  @Override
  public Variable forward(Variable x) {
    return Ops.relu(x);
  }
}
