package org.anode.nn;

import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/** {@code tanh(x)} as a module: a smooth activation, for control experiments. */
public final class Tanh extends Module {
  @Override
  public Variable forward(Variable x) {
    return Ops.tanh(x);
  }
}
