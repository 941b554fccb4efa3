package org.anode.api;

/**
 * The arguments of a convolution's backward pass, already checked by {@link AbstractBackend}: the
 * one entry point through which a backend computes {@code ∂L/∂x = conv2dᵀ(∂L/∂y, w)} and {@code
 * ∂L/∂w = Σₙ x ⋆ ∂L/∂y}.
 *
 * <p>A gradient with respect to the input needs only the weight and the input's shape; one with
 * respect to the weight needs only the input and the weight's shape. So {@code x} is null when only
 * the input gradient was asked for ({@link Backend#conv2dBackwardInput}) and {@code w} is null when
 * only the weight gradient was ({@link Backend#conv2dBackwardWeight}). A library whose backward
 * kernel reads both tensors anyway gets a zero {@link #standIn} of the right shape.
 *
 * @param x the convolution's input, or null when {@code wantWeight} is false
 * @param inputShape the input's shape, {@code [N, C, H, W]}
 * @param w the weight, or null when {@code wantInput} is false
 * @param weightShape the weight's shape, {@code [out, in/groups, kH, kW]}
 * @param gradOut the upstream gradient, shaped like the convolution's output
 * @param spec strides, padding, dilation and groups
 * @param wantInput whether {@code ∂L/∂x} is wanted
 * @param wantWeight whether {@code ∂L/∂w} is wanted
 */
public record Conv2dBackwardArgs(
    Tensor x,
    Shape inputShape,
    Tensor w,
    Shape weightShape,
    Tensor gradOut,
    Conv2dSpec spec,
    boolean wantInput,
    boolean wantWeight) {

  public Conv2dBackwardArgs {
    if (wantInput && w == null || wantWeight && x == null || !wantInput && !wantWeight) {
      throw new IllegalArgumentException(
          "conv2dBackward: an input gradient needs the weight, a weight gradient needs the input,"
              + " and at least one must be wanted (input "
              + wantInput
              + ", weight "
              + wantWeight
              + ")");
    }
  }

  /** The dtype of every operand and both gradients. */
  public DType dtype() {
    return gradOut.dtype();
  }

  /** A backward kernel that reads both operands, shaped like {@link Backend#conv2dBackward}. */
  @FunctionalInterface
  public interface BothOperands {
    Backend.Conv2dGradients apply(
        Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight);
  }

  /**
   * Runs {@code kernel} on both operands, for libraries whose backward kernel reads both anyway:
   * the operand that was not given (the input when only {@code ∂L/∂x} is wanted, the weight when
   * only {@code ∂L/∂w} is) is a zero tensor of its shape, closed afterwards.
   */
  public Backend.Conv2dGradients withBothOperands(Backend backend, BothOperands kernel) {
    Shape missing = x == null ? inputShape : w == null ? weightShape : null;
    try (Tensor standIn = missing == null ? null : backend.zeros(missing, dtype())) {
      return kernel.apply(
          x != null ? x : standIn, w != null ? w : standIn, gradOut, spec, wantInput, wantWeight);
    }
  }
}
