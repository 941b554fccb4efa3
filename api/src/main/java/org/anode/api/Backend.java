package org.anode.api;

import java.util.List;

/**
 * The kernels that anode needs from a tensor library, each in {@link DType#FLOAT32} and {@link
 * DType#FLOAT64} on NCHW images. Every kernel returns a new tensor that owns its memory (never a
 * view of an argument), registered with the current {@link TensorScope}.
 *
 * <p>The error contract (see {@link Checks}): a shape or dtype mismatch throws {@link
 * IllegalArgumentException} naming the operation, both shapes and both dtypes; a closed argument
 * throws {@link IllegalStateException}. No mismatch ever reaches native code.
 *
 * <p>Elementwise binary kernels broadcast explicitly: equal ranks, each dimension equal or 1 (see
 * {@link Checks#broadcast}).
 */
public interface Backend extends AutoCloseable {

  /**
   * Releases what the backend itself holds (compiled graphs, native managers); its tensors must be
   * closed first, and the backend is not used afterwards. Backends shared through {@link Backends}
   * are released with {@link Backends#release}. The default holds nothing.
   */
  @Override
  default void close() {}

  /** The provider's name, such as {@code "nd4j"}. */
  String name();

  /** Kernel threads this backend was created with. */
  int threads();

  // ---- creation -------------------------------------------------------------------------------

  Tensor fromArray(float[] data, Shape shape);

  Tensor fromArray(double[] data, Shape shape);

  Tensor full(Shape shape, double value, DType dtype);

  default Tensor zeros(Shape shape, DType dtype) {
    return full(shape, 0.0, dtype);
  }

  default Tensor ones(Shape shape, DType dtype) {
    return full(shape, 1.0, dtype);
  }

  /** A scalar (rank 0) tensor. */
  default Tensor scalar(double value, DType dtype) {
    return full(Shape.scalar(), value, dtype);
  }

  /** A copy in {@code dtype} (a plain copy when the dtype is already {@code dtype}). */
  Tensor cast(Tensor x, DType dtype);

  /** A copy of {@code x} that owns its memory. */
  default Tensor copy(Tensor x) {
    return cast(x, x.dtype());
  }

  // ---- elementwise ----------------------------------------------------------------------------

  Tensor add(Tensor a, Tensor b);

  Tensor sub(Tensor a, Tensor b);

  Tensor mul(Tensor a, Tensor b);

  Tensor div(Tensor a, Tensor b);

  /** {@code x + s}. */
  Tensor addScalar(Tensor x, double s);

  /** {@code x × s}. */
  Tensor mulScalar(Tensor x, double s);

  /** {@code x ^ p}, elementwise. */
  Tensor powScalar(Tensor x, double p);

  Tensor neg(Tensor x);

  Tensor exp(Tensor x);

  Tensor log(Tensor x);

  Tensor sqrt(Tensor x);

  Tensor square(Tensor x);

  Tensor relu(Tensor x);

  Tensor tanh(Tensor x);

  /**
   * ReLU's input gradient from its output: {@code g} where {@code y > 0}, else 0 (y and g of one
   * shape and dtype). A fused kernel: the default composes {@link #greaterThan} and {@link #mul}
   * and frees the mask; a backend that can do it in one pass saves that pass and the mask's memory.
   */
  default Tensor reluBackward(Tensor y, Tensor g) {
    Checks.sameDType("reluBackward", y, g);
    Checks.gradientShape("reluBackward", g, y.shape());
    try (Tensor zero = scalar(0.0, y.dtype());
        Tensor mask = greaterThan(y, zero)) {
      return mul(g, mask);
    }
  }

  /**
   * {@code base + Σ cᵢ·termsᵢ} (terms of base's shape and dtype; zero coefficients skipped): the
   * update of a solver step, {@code z + h Σ bᵢ kᵢ}. A fused kernel: the default composes {@link
   * #mulScalar} and {@link #add}, freeing each temporary at once; a backend that can accumulate in
   * place needs no temporaries. With every coefficient zero the result is a copy of base.
   */
  default Tensor addScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    Checks.addScaled(base, coefficients, terms);
    Tensor acc = null;
    for (int i = 0; i < coefficients.length; i++) {
      if (coefficients[i] == 0) {
        continue;
      }
      Tensor from = acc == null ? base : acc;
      Tensor next;
      if (coefficients[i] == 1) {
        next = add(from, terms.get(i));
      } else {
        try (Tensor term = mulScalar(terms.get(i), coefficients[i])) {
          next = add(from, term);
        }
      }
      if (acc != null) {
        acc.close();
      }
      acc = next;
    }
    return acc == null ? copy(base) : acc;
  }

  /** 1 where {@code a > b} and 0 elsewhere, in the dtype of the arguments (broadcasting). */
  Tensor greaterThan(Tensor a, Tensor b);

  /** {@code mask != 0 ? a : b} elementwise (all three broadcast together; same dtype). */
  Tensor where(Tensor mask, Tensor a, Tensor b);

  /** {@code x} repeated along its size-1 dimensions to {@code shape}. */
  Tensor broadcastTo(Tensor x, Shape shape);

  // ---- reductions (no axes means all axes) ----------------------------------------------------

  Tensor sum(Tensor x, boolean keepDims, int... axes);

  Tensor mean(Tensor x, boolean keepDims, int... axes);

  Tensor max(Tensor x, boolean keepDims, int... axes);

  // ---- layout ---------------------------------------------------------------------------------

  /** Same elements in row-major order, new shape (a copy, never a view). */
  Tensor reshape(Tensor x, Shape shape);

  /** Axes reordered: output axis {@code i} is input axis {@code axes[i]}. */
  Tensor permute(Tensor x, int... axes);

  /** Joins tensors of equal shape except along {@code axis}. */
  Tensor concat(List<Tensor> parts, int axis);

  /** Elements {@code [start, end)} along {@code axis}. */
  Tensor slice(Tensor x, int axis, int start, int end);

  // ---- linear algebra and convolution ---------------------------------------------------------

  /** 2-D matrix product {@code [m,k] × [k,n] → [m,n]}. */
  Tensor matmul(Tensor a, Tensor b);

  /**
   * 2-D cross-correlation of NCHW {@code x} with OIHW {@code w} ({@code [out, in/groups, kH, kW]}),
   * plus {@code bias} of shape {@code [out]} when it is not null.
   */
  Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec);

  /** Gradient of {@link #conv2d} with respect to its input, by a native kernel. */
  Tensor conv2dBackwardInput(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec);

  /** Gradient of {@link #conv2d} with respect to its weight, by a native kernel. */
  Tensor conv2dBackwardWeight(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec);

  /**
   * {@code relu(conv2d(x, w, bias))}: a convolution and the ReLU after it. A fused kernel: the
   * default composes {@link #conv2d} and {@link #relu} and frees the pre-activation at once; a
   * library that applies the ReLU as the convolution writes its output (oneDNN's eltwise post-op)
   * saves that pass and never allocates the pre-activation.
   */
  default Tensor conv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    try (Tensor a = conv2d(x, w, bias, spec)) {
      return relu(a);
    }
  }

  /**
   * Batch normalization in training mode over the N, H and W axes of NCHW {@code x} (Ioffe and
   * Szegedy 2015, eq. in Alg. 1): {@code y = γ·(x − μ)/√(σ² + ε) + β} per channel, with the batch's
   * mean μ and biased variance σ², which are returned too (shape {@code [C]}, for the running
   * estimates and the backward pass). A fused kernel: the default composes reductions and
   * per-channel broadcasts (about ten passes over {@code x}); a library with a batch-norm primitive
   * needs two.
   */
  default BatchNormResult batchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    int c = x.shape().dim(1);
    Shape perChannel = Shape.of(1, c, 1, 1);
    try (Tensor mean = mean(x, true, 0, 2, 3);
        Tensor centered = sub(x, mean);
        Tensor squared = square(centered);
        Tensor variance = mean(squared, true, 0, 2, 3);
        Tensor shifted = addScalar(variance, eps);
        Tensor invStd = powScalar(shifted, -0.5);
        Tensor xhat = mul(centered, invStd);
        Tensor g = reshape(gamma, perChannel);
        Tensor scaled = mul(xhat, g);
        Tensor b = reshape(beta, perChannel)) {
      Tensor y = add(scaled, b);
      return new BatchNormResult(y, reshape(mean, Shape.of(c)), reshape(variance, Shape.of(c)));
    }
  }

  /** What {@link #batchNorm} returns: the output, and the batch's mean and biased variance. */
  record BatchNormResult(Tensor output, Tensor mean, Tensor variance) {}

  /**
   * The gradients of {@link #batchNorm} with respect to {@code x}, γ and β (each null when not
   * wanted), from the batch's {@code mean} and {@code variance} it returned and the output's
   * gradient {@code g}. With x̂ = (x − μ)/√(σ² + ε) and M = N·H·W: ∂β = Σ g, ∂γ = Σ g·x̂, ∂x =
   * γ/(M·√(σ² + ε)) · (M·g − ∂β − x̂·∂γ) (sums per channel). A fused kernel: the default composes
   * it from reductions and broadcasts.
   */
  default BatchNormGradients batchNormBackward(
      Tensor x,
      Tensor gamma,
      Tensor mean,
      Tensor variance,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    Shape s = x.shape();
    int c = s.dim(1);
    double m = (double) s.numel() / c;
    Shape perChannel = Shape.of(1, c, 1, 1);
    try (Tensor mean4 = reshape(mean, perChannel);
        Tensor var4 = reshape(variance, perChannel);
        Tensor shifted = addScalar(var4, eps);
        Tensor invStd = powScalar(shifted, -0.5);
        Tensor centered = sub(x, mean4);
        Tensor xhat = mul(centered, invStd);
        Tensor dBeta = sum(g, true, 0, 2, 3);
        Tensor gx = mul(g, xhat);
        Tensor dGamma = sum(gx, true, 0, 2, 3)) {
      Tensor dx = null;
      if (input) {
        try (Tensor g4 = reshape(gamma, perChannel);
            Tensor gInv = mul(g4, invStd);
            Tensor coefficient = mulScalar(gInv, 1 / m);
            Tensor mg = mulScalar(g, m);
            Tensor minusBeta = sub(mg, dBeta);
            Tensor xg = mul(xhat, dGamma);
            Tensor inner = sub(minusBeta, xg)) {
          dx = mul(coefficient, inner);
        }
      }
      return new BatchNormGradients(
          dx,
          wantGamma ? reshape(dGamma, Shape.of(c)) : null,
          wantBeta ? reshape(dBeta, Shape.of(c)) : null);
    }
  }

  /** The gradients of {@link #batchNorm}; an entry is null when it was not requested. */
  record BatchNormGradients(Tensor input, Tensor gamma, Tensor beta) {}

  /**
   * Both conv gradients at once; either may be skipped. Backends whose library computes both in one
   * call override this to save the second pass.
   */
  default Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    return new Conv2dGradients(
        input ? conv2dBackwardInput(gradOut, w, x.shape(), spec) : null,
        weight ? conv2dBackwardWeight(x, gradOut, w.shape(), spec) : null);
  }

  /** The two gradients of a convolution; an entry is null when it was not requested. */
  record Conv2dGradients(Tensor input, Tensor weight) {}

  // ---- pooling and softmax --------------------------------------------------------------------

  Tensor avgPool2d(Tensor x, Pool2dSpec spec);

  Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec);

  /**
   * Mean over H and W: {@code [N,C,H,W] → [N,C,1,1]}. The default is {@link #mean} over axes 2 and
   * 3, which every backend here runs as one native reduction.
   */
  default Tensor globalAvgPool(Tensor x) {
    if (x.shape().rank() != 4) {
      throw new IllegalArgumentException(
          "globalAvgPool: input " + Checks.describe(x) + " must be rank 4 (NCHW)");
    }
    return mean(x, true, 2, 3);
  }

  Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape);

  /** {@code log(softmax(x))} along {@code axis}, computed stably. */
  Tensor logSoftmax(Tensor x, int axis);

  /**
   * What this backend computes with on this machine, one line each: its native library and version,
   * the instruction set of its kernels, the route its float32 convolutions take and any fallback in
   * force (reference kernels, float64 instead of float32, a library's kernel routed around). {@code
   * anode info} prints them; a user whose numbers or speed surprise reads them first. The default
   * says nothing.
   */
  default java.util.List<String> kernels() {
    return java.util.List.of();
  }
}
