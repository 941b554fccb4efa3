package org.anode.api;

import java.util.List;

/**
 * The base of a backend: every public kernel is final and checks its arguments (each tensor open
 * and on this backend, dtypes and shapes as {@link Checks} states) before it calls the backend's
 * implementation, a protected {@code do…} method that receives what the checks worked out (the
 * broadcast shape, normalized axes, the output shape). No implementation can forget a check or make
 * them in another order, so the error contract is the same on every backend that extends this
 * class, and no mismatch reaches native code.
 *
 * <p>The convolution's three backward kernels meet in one entry point, {@link #doConv2dBackward},
 * which receives whichever operands the caller had ({@link Conv2dBackwardArgs}).
 *
 * <p>The three fused kernels have composed defaults ({@link #doReluBackward}, {@link #doAddScaled},
 * {@link #doConv2dRelu}); a backend overrides them when its library does the work in one pass.
 */
public abstract class AbstractBackend implements Backend {

  /** {@code t} is open and was made by this backend (tensors never move between backends). */
  private void own(String op, Tensor t) {
    Checks.onBackend(op, this, t);
  }

  private Shape binary(String op, Tensor a, Tensor b) {
    own(op, a);
    own(op, b);
    return Checks.broadcast(op, a, b);
  }

  // ---- creation -------------------------------------------------------------------------------

  @Override
  public final Tensor fromArray(float[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return doFromArray(data, shape);
  }

  @Override
  public final Tensor fromArray(double[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return doFromArray(data, shape);
  }

  @Override
  public final Tensor full(Shape shape, double value, DType dtype) {
    if (shape == null || dtype == null) {
      throw new IllegalArgumentException("full: shape " + shape + " and dtype " + dtype);
    }
    return doFull(shape, value, dtype);
  }

  @Override
  public final Tensor cast(Tensor x, DType dtype) {
    own("cast", x);
    if (dtype == null) {
      throw new IllegalArgumentException("cast: no dtype given for " + Checks.describe(x));
    }
    return doCast(x, dtype);
  }

  protected abstract Tensor doFromArray(float[] data, Shape shape);

  protected abstract Tensor doFromArray(double[] data, Shape shape);

  protected abstract Tensor doFull(Shape shape, double value, DType dtype);

  /** A copy in {@code dtype}; a plain copy when {@code dtype} is already x's. */
  protected abstract Tensor doCast(Tensor x, DType dtype);

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  public final Tensor add(Tensor a, Tensor b) {
    return doAdd(a, b, binary("add", a, b));
  }

  @Override
  public final Tensor sub(Tensor a, Tensor b) {
    return doSub(a, b, binary("sub", a, b));
  }

  @Override
  public final Tensor mul(Tensor a, Tensor b) {
    return doMul(a, b, binary("mul", a, b));
  }

  @Override
  public final Tensor div(Tensor a, Tensor b) {
    return doDiv(a, b, binary("div", a, b));
  }

  @Override
  public final Tensor greaterThan(Tensor a, Tensor b) {
    return doGreaterThan(a, b, binary("greaterThan", a, b));
  }

  @Override
  public final Tensor addScalar(Tensor x, double s) {
    own("addScalar", x);
    return doAddScalar(x, s);
  }

  @Override
  public final Tensor mulScalar(Tensor x, double s) {
    own("mulScalar", x);
    return doMulScalar(x, s);
  }

  @Override
  public final Tensor powScalar(Tensor x, double p) {
    own("powScalar", x);
    return doPowScalar(x, p);
  }

  @Override
  public final Tensor neg(Tensor x) {
    own("neg", x);
    return doNeg(x);
  }

  @Override
  public final Tensor exp(Tensor x) {
    own("exp", x);
    return doExp(x);
  }

  @Override
  public final Tensor log(Tensor x) {
    own("log", x);
    return doLog(x);
  }

  @Override
  public final Tensor sqrt(Tensor x) {
    own("sqrt", x);
    return doSqrt(x);
  }

  @Override
  public final Tensor square(Tensor x) {
    own("square", x);
    return doSquare(x);
  }

  @Override
  public final Tensor relu(Tensor x) {
    own("relu", x);
    return doRelu(x);
  }

  @Override
  public final Tensor tanh(Tensor x) {
    own("tanh", x);
    return doTanh(x);
  }

  @Override
  public final Tensor reluBackward(Tensor y, Tensor g) {
    own("reluBackward", y);
    own("reluBackward", g);
    Checks.sameDType("reluBackward", y, g);
    Checks.gradientShape("reluBackward", g, y.shape());
    return doReluBackward(y, g);
  }

  @Override
  public final Tensor addScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    own("addScaled", base);
    terms.forEach(t -> own("addScaled", t));
    Checks.addScaled(base, coefficients, terms);
    return doAddScaled(base, coefficients, terms);
  }

  @Override
  public final Tensor where(Tensor mask, Tensor a, Tensor b) {
    own("where", mask);
    Shape values = binary("where", a, b);
    Checks.sameDType("where", mask, a);
    return doWhere(mask, a, b, Checks.broadcast("where", mask.shape(), values));
  }

  @Override
  public final Tensor broadcastTo(Tensor x, Shape shape) {
    own("broadcastTo", x);
    Checks.broadcastableTo("broadcastTo", x.shape(), shape);
    return doBroadcastTo(x, shape);
  }

  /** {@code a + b} into a new tensor of the broadcast shape {@code out}. */
  protected abstract Tensor doAdd(Tensor a, Tensor b, Shape out);

  protected abstract Tensor doSub(Tensor a, Tensor b, Shape out);

  protected abstract Tensor doMul(Tensor a, Tensor b, Shape out);

  protected abstract Tensor doDiv(Tensor a, Tensor b, Shape out);

  protected abstract Tensor doGreaterThan(Tensor a, Tensor b, Shape out);

  protected abstract Tensor doAddScalar(Tensor x, double s);

  protected abstract Tensor doMulScalar(Tensor x, double s);

  protected abstract Tensor doPowScalar(Tensor x, double p);

  protected abstract Tensor doNeg(Tensor x);

  protected abstract Tensor doExp(Tensor x);

  protected abstract Tensor doLog(Tensor x);

  protected abstract Tensor doSqrt(Tensor x);

  protected abstract Tensor doSquare(Tensor x);

  protected abstract Tensor doRelu(Tensor x);

  protected abstract Tensor doTanh(Tensor x);

  /** ReLU's input gradient; the default composes a mask and a product (see {@link Backend}). */
  protected Tensor doReluBackward(Tensor y, Tensor g) {
    return Backend.super.reluBackward(y, g);
  }

  /** {@code base + Σ cᵢ·termsᵢ}; the default composes scaled terms (see {@link Backend}). */
  protected Tensor doAddScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    return Backend.super.addScaled(base, coefficients, terms);
  }

  /** {@code mask != 0 ? a : b}, all three broadcast to {@code out}. */
  protected abstract Tensor doWhere(Tensor mask, Tensor a, Tensor b, Shape out);

  protected abstract Tensor doBroadcastTo(Tensor x, Shape shape);

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  public final Tensor sum(Tensor x, boolean keepDims, int... axes) {
    own("sum", x);
    return doSum(x, keepDims, Checks.axes("sum", x.shape(), axes));
  }

  @Override
  public final Tensor mean(Tensor x, boolean keepDims, int... axes) {
    own("mean", x);
    return doMean(x, keepDims, Checks.axes("mean", x.shape(), axes));
  }

  @Override
  public final Tensor max(Tensor x, boolean keepDims, int... axes) {
    own("max", x);
    return doMax(x, keepDims, Checks.axes("max", x.shape(), axes));
  }

  /** A sum over {@code axes}: distinct, in range and ascending; every axis when all are given. */
  protected abstract Tensor doSum(Tensor x, boolean keepDims, int[] axes);

  protected abstract Tensor doMean(Tensor x, boolean keepDims, int[] axes);

  protected abstract Tensor doMax(Tensor x, boolean keepDims, int[] axes);

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  public final Tensor reshape(Tensor x, Shape shape) {
    own("reshape", x);
    Checks.reshape(x, shape);
    return doReshape(x, shape);
  }

  @Override
  public final Tensor permute(Tensor x, int... axes) {
    own("permute", x);
    Checks.permutation(x, axes);
    return doPermute(x, axes.clone());
  }

  @Override
  public final Tensor concat(List<Tensor> parts, int axis) {
    parts.forEach(p -> own("concat", p));
    Shape out = Checks.concat(parts, axis);
    return doConcat(List.copyOf(parts), out.normalizeAxis(axis), out);
  }

  @Override
  public final Tensor slice(Tensor x, int axis, int start, int end) {
    own("slice", x);
    Shape out = Checks.slice(x, axis, start, end);
    return doSlice(x, x.shape().normalizeAxis(axis), start, end, out);
  }

  protected abstract Tensor doReshape(Tensor x, Shape shape);

  protected abstract Tensor doPermute(Tensor x, int[] axes);

  /** Parts joined along {@code axis} (normalized, non-negative) into {@code out}. */
  protected abstract Tensor doConcat(List<Tensor> parts, int axis, Shape out);

  /** Elements {@code [start, end)} of {@code axis} (normalized), a non-empty range. */
  protected abstract Tensor doSlice(Tensor x, int axis, int start, int end, Shape out);

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  public final Tensor matmul(Tensor a, Tensor b) {
    own("matmul", a);
    own("matmul", b);
    return doMatmul(a, b, Checks.matmul(a, b));
  }

  @Override
  public final Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    return doConv2d(x, w, bias, spec, checkConvolution("conv2d", x, w, bias, spec));
  }

  @Override
  public final Tensor conv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    return doConv2dRelu(x, w, bias, spec, checkConvolution("conv2dRelu", x, w, bias, spec));
  }

  /** The checks of a forward convolution {@code op}; returns its output shape. */
  private Shape checkConvolution(String op, Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    own(op, x);
    own(op, w);
    if (bias != null) {
      own(op, bias);
    }
    Checks.convolution(op, x, w, bias);
    return spec.outputShape(x.shape(), w.shape());
  }

  @Override
  public final BatchNormResult batchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    own("batchNorm", x);
    own("batchNorm", gamma);
    own("batchNorm", beta);
    Checks.batchNorm("batchNorm", x, gamma, beta);
    return doBatchNorm(x, gamma, beta, eps);
  }

  @Override
  public final BatchNormGradients batchNormBackward(
      Tensor x,
      Tensor gamma,
      Tensor mean,
      Tensor variance,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    own("batchNormBackward", x);
    own("batchNormBackward", gamma);
    own("batchNormBackward", mean);
    own("batchNormBackward", variance);
    own("batchNormBackward", g);
    Checks.batchNorm("batchNormBackward", x, gamma, mean);
    Checks.batchNorm("batchNormBackward", x, variance, gamma);
    Checks.sameDType("batchNormBackward", x, g);
    Checks.gradientShape("batchNormBackward", g, x.shape());
    return doBatchNormBackward(x, gamma, mean, variance, eps, g, input, wantGamma, wantBeta);
  }

  @Override
  public final Tensor conv2dBackwardInput(
      Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    own("conv2dBackwardInput", gradOut);
    own("conv2dBackwardInput", w);
    Checks.convolutionGradient("conv2dBackwardInput", inputShape, w, gradOut, spec);
    return doConv2dBackward(
            new Conv2dBackwardArgs(null, inputShape, w, w.shape(), gradOut, spec, true, false))
        .input();
  }

  @Override
  public final Tensor conv2dBackwardWeight(
      Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    own("conv2dBackwardWeight", x);
    own("conv2dBackwardWeight", gradOut);
    Checks.sameDType("conv2dBackwardWeight", x, gradOut);
    Checks.gradientShape("conv2dBackwardWeight", gradOut, spec.outputShape(x.shape(), weightShape));
    return doConv2dBackward(
            new Conv2dBackwardArgs(x, x.shape(), null, weightShape, gradOut, spec, false, true))
        .weight();
  }

  @Override
  public final Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    own("conv2dBackward", x);
    own("conv2dBackward", w);
    own("conv2dBackward", gradOut);
    Checks.convolution("conv2dBackward", x, w, null);
    Checks.convolutionGradient("conv2dBackward", x.shape(), w, gradOut, spec);
    if (!input && !weight) {
      return new Conv2dGradients(null, null);
    }
    return doConv2dBackward(
        new Conv2dBackwardArgs(x, x.shape(), w, w.shape(), gradOut, spec, input, weight));
  }

  protected abstract Tensor doMatmul(Tensor a, Tensor b, Shape out);

  /** The convolution into a new tensor of shape {@code out}; {@code bias} may be null. */
  protected abstract Tensor doConv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out);

  /**
   * Batch normalization in training mode; the default composes it (see {@link Backend#batchNorm}).
   */
  protected BatchNormResult doBatchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    return Backend.super.batchNorm(x, gamma, beta, eps);
  }

  /** Its gradients; the default composes them (see {@link Backend#batchNormBackward}). */
  protected BatchNormGradients doBatchNormBackward(
      Tensor x,
      Tensor gamma,
      Tensor mean,
      Tensor variance,
      double eps,
      Tensor g,
      boolean input,
      boolean wantGamma,
      boolean wantBeta) {
    return Backend.super.batchNormBackward(
        x, gamma, mean, variance, eps, g, input, wantGamma, wantBeta);
  }

  /**
   * {@code relu(conv2d(x, w, bias))} of shape {@code out}; the default composes them (see {@link
   * Backend#conv2dRelu}).
   */
  protected Tensor doConv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    return Backend.super.conv2dRelu(x, w, bias, spec);
  }

  /**
   * The gradients that {@code args} asks for (the others null): the one entry point of the three
   * backward kernels.
   */
  protected abstract Conv2dGradients doConv2dBackward(Conv2dBackwardArgs args);

  // ---- pooling and softmax --------------------------------------------------------------------

  @Override
  public final Tensor avgPool2d(Tensor x, Pool2dSpec spec) {
    own("avgPool2d", x);
    return doAvgPool2d(x, spec, spec.outputShape(x.shape()));
  }

  @Override
  public final Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    own("avgPool2dBackward", gradOut);
    Checks.gradientShape("avgPool2dBackward", gradOut, spec.outputShape(inputShape));
    return doAvgPool2dBackward(gradOut, inputShape, spec);
  }

  @Override
  public final Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    own("globalAvgPoolBackward", gradOut);
    if (inputShape.rank() != 4) {
      throw new IllegalArgumentException(
          "globalAvgPoolBackward: input shape " + inputShape + " must be rank 4 (NCHW)");
    }
    Shape pooled = Shape.of(inputShape.dim(0), inputShape.dim(1), 1, 1);
    Checks.gradientShape("globalAvgPoolBackward", gradOut, pooled);
    return doGlobalAvgPoolBackward(gradOut, inputShape);
  }

  @Override
  public final Tensor logSoftmax(Tensor x, int axis) {
    own("logSoftmax", x);
    int ax;
    try {
      ax = x.shape().normalizeAxis(axis);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("logSoftmax: " + e.getMessage(), e);
    }
    return doLogSoftmax(x, ax);
  }

  protected abstract Tensor doAvgPool2d(Tensor x, Pool2dSpec spec, Shape out);

  protected abstract Tensor doAvgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec);

  /** {@code gradOut} {@code [N,C,1,1]} spread evenly over H×W of {@code inputShape}. */
  protected abstract Tensor doGlobalAvgPoolBackward(Tensor gradOut, Shape inputShape);

  /** {@code log(softmax(x))} along {@code axis} (normalized), computed stably. */
  protected abstract Tensor doLogSoftmax(Tensor x, int axis);
}
