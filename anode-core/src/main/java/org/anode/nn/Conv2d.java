package org.anode.nn;

import org.anode.api.Conv2dSpec;
import org.anode.api.Shape;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * 2-D convolution {@code [N, in, H, W] → [N, out, H', W']} with weight {@code [out, in/groups, kH,
 * kW]} (kernels may be asymmetric, such as 1×3) and an optional bias. The weight starts
 * Kaiming-normal (fan-in, ReLU gain) unless another {@link Initializer} is given; the bias starts
 * {@code U(±1/√fanIn)} as in PyTorch.
 */
public final class Conv2d extends Module {
  private final Parameter weight;
  private final Parameter bias;
  private final Conv2dSpec spec;

  public Conv2d(
      ParameterFactory f,
      int in,
      int out,
      int kernelH,
      int kernelW,
      Conv2dSpec spec,
      boolean bias,
      Initializer weightInit) {
    this.spec = spec;
    if (in % spec.groups() != 0 || out % spec.groups() != 0) {
      throw new IllegalArgumentException(
          "Conv2d: groups=" + spec.groups() + " must divide in=" + in + " and out=" + out);
    }
    Shape ws = Shape.of(out, in / spec.groups(), kernelH, kernelW);
    this.weight = registerParameter("weight", f.create(ws, weightInit));
    this.bias =
        bias
            ? registerParameter(
                "bias", f.create(Shape.of(out), Initializer.uniformFanIn(Initializer.fanIn(ws))))
            : null;
  }

  /** A square kernel with Kaiming-normal weights. */
  public Conv2d(ParameterFactory f, int in, int out, int kernel, Conv2dSpec spec, boolean bias) {
    this(f, in, out, kernel, kernel, spec, bias, Initializer.kaimingNormal());
  }

  public Parameter weight() {
    return weight;
  }

  /** The bias, or null. */
  public Parameter bias() {
    return bias;
  }

  public Conv2dSpec spec() {
    return spec;
  }

  @Override
  public Variable forward(Variable x) {
    return Ops.conv2d(x, weight, bias, spec);
  }

  /**
   * This convolution followed by a ReLU, as one fused op ({@link Ops#conv2dRelu}): what {@link
   * Sequential} runs for a {@code Conv2d} directly followed by a {@link ReLU}.
   */
  public Variable forwardRelu(Variable x) {
    return Ops.conv2dRelu(x, weight, bias, spec);
  }
}
