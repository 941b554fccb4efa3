package org.anode.ode;

import org.anode.api.Shape;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.anode.nn.Initializer;
import org.anode.nn.Parameter;
import org.anode.nn.ParameterFactory;

/** A smooth field {@code f(z) = tanh(z·W + b)} on {@code [N, d]} states. */
final class TanhField extends VectorField {
  final Parameter w;
  final Parameter b;

  TanhField(ParameterFactory f, int d) {
    w = registerParameter("w", f.create(Shape.of(d, d), Initializer.uniform(1.0)));
    b = registerParameter("b", f.create(Shape.of(1, d), Initializer.uniform(0.5)));
  }

  @Override
  protected Variable compute(double t, Variable z) {
    return Ops.tanh(Ops.add(Ops.matmul(z, w), b));
  }
}
