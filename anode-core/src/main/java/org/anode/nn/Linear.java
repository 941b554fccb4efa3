package org.anode.nn;

import org.anode.api.Shape;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * Affine map {@code y = x·Wᵀ + b} on {@code [N, in]} with {@code W: [out, in]}. Weight and bias
 * start {@code U(±1/√in)}, as PyTorch's {@code nn.Linear}, unless another initializer is given.
 */
public final class Linear extends Module {
  private final Parameter weight;
  private final Parameter bias;

  public Linear(ParameterFactory f, int in, int out, boolean bias, Initializer weightInit) {
    this.weight = registerParameter("weight", f.create(Shape.of(out, in), weightInit));
    this.bias =
        bias
            ? registerParameter("bias", f.create(Shape.of(out), Initializer.uniformFanIn(in)))
            : null;
  }

  public Linear(ParameterFactory f, int in, int out) {
    this(f, in, out, true, Initializer.uniformFanIn(in));
  }

  public Parameter weight() {
    return weight;
  }

  public Parameter bias() {
    return bias;
  }

  @Override
  public Variable forward(Variable x) {
    if (x.shape().rank() != 2 || x.shape().dim(1) != weight.shape().dim(1)) {
      throw new IllegalArgumentException(
          "Linear: input "
              + x.shape()
              + " must be [N, "
              + weight.shape().dim(1)
              + "] for weight "
              + weight.shape());
    }
    Variable y = Ops.matmul(x, Ops.permute(weight, 1, 0));
    if (bias == null) {
      return y;
    }
    return Ops.add(y, Ops.reshape(bias, Shape.of(1, bias.shape().dim(0))));
  }
}
