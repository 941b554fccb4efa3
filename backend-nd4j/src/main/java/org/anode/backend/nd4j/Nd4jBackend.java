package org.anode.backend.nd4j;

import java.util.List;
import org.anode.api.AbstractBackend;
import org.anode.api.BackendOptions;
import org.anode.api.Checks;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.reduce.floating.Mean;
import org.nd4j.linalg.api.ops.impl.reduce.same.Max;
import org.nd4j.linalg.api.ops.impl.reduce.same.Sum;
import org.nd4j.linalg.api.ops.impl.scalar.Pow;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.scalar.ScalarAdd;
import org.nd4j.linalg.api.ops.impl.scalar.ScalarMultiplication;
import org.nd4j.linalg.api.ops.impl.scalar.Step;
import org.nd4j.linalg.api.ops.impl.transforms.floating.Sqrt;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.api.ops.impl.transforms.same.Negative;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Exp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Log;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Tanh;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The anode kernels on ND4J 1.0.0-M2.1 (CPU). Convolutions and their gradients run in libnd4j's
 * {@code conv2d} / {@code conv2d_bp} (oneDNN where the {@code onednn-avx2} build is on the
 * classpath); channel groups are split into per-group native calls since libnd4j's {@code conv2d}
 * has no groups argument. Large float32 convolutions keep their results channels-last, and
 * elementwise ops keep that layout (see {@link Nd4jTensor}), which spares oneDNN's reorders around
 * each convolution of a conv → ReLU → conv chain.
 *
 * <p>Every result is written by a native op into memory this backend allocated (see {@link
 * Nd4jMemory}): ND4J is never left to allocate a result, so closing a tensor frees its memory at
 * once. Views ({@code permute}, {@code get}, {@code reshape}) are only read, never kept.
 */
final class Nd4jBackend extends AbstractBackend {
  private final int threads;
  private final Nd4jConvolutions convolutions = new Nd4jConvolutions(this);
  private final Nd4jBatchNorm batchNorm = new Nd4jBatchNorm(this);
  private final Nd4jPooling pooling = new Nd4jPooling(this);
  private final Nd4jElementwise elementwise = new Nd4jElementwise(this);

  Nd4jBackend(BackendOptions options) {
    if (options.threads() > 0) {
      // libnd4j's own pool and the OpenMP runtime that oneDNN uses are set separately.
      Nd4j.getEnvironment().setMaxThreads(options.threads());
      Nd4j.getEnvironment().setMaxMasterThreads(options.threads());
      NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(options.threads());
    }
    this.threads = NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads();
    OneDnnThreads.use(threads);
  }

  @Override
  public String name() {
    return Nd4jProvider.NAME;
  }

  @Override
  public int threads() {
    return threads;
  }

  @Override
  public java.util.List<String> kernels() {
    return Nd4jKernelReport.lines();
  }

  // ---- memory ---------------------------------------------------------------------------------

  /** {@code t} as this backend's tensor ({@link AbstractBackend} has checked that it is). */
  static Nd4jTensor own(Tensor t) {
    return (Nd4jTensor) t;
  }

  /** {@code t}'s values as a C-ordered array of its shape (NCHW for rank 4). */
  static INDArray arr(Tensor t) {
    return own(t).array();
  }

  /** A new tensor of {@code shape} whose contents {@code fill} writes. */
  Tensor create(DType dtype, Shape shape, java.util.function.Consumer<INDArray> fill) {
    return create(dtype, shape, StorageLayout.NCHW, fill);
  }

  /**
   * A new tensor of {@code shape} whose contents {@code fill} writes, kept in {@code layout}:
   * {@code fill} writes a C-ordered array of {@code layout.storageShape(shape)}.
   */
  Tensor create(
      DType dtype, Shape shape, StorageLayout layout, java.util.function.Consumer<INDArray> fill) {
    Nd4jMemory.Block b = Nd4jMemory.scratch(dtype, layout.storageShape(shape));
    try {
      fill.accept(b.array());
    } catch (RuntimeException | Error e) {
      b.free();
      throw e;
    }
    return new Nd4jTensor(this, b.handOver(), shape, dtype, layout);
  }

  // ---- creation -------------------------------------------------------------------------------

  @Override
  protected Tensor doFromArray(float[] data, Shape shape) {
    return create(DType.FLOAT32, shape, a -> ((FloatPointer) a.data().addressPointer()).put(data));
  }

  @Override
  protected Tensor doFromArray(double[] data, Shape shape) {
    return create(DType.FLOAT64, shape, a -> ((DoublePointer) a.data().addressPointer()).put(data));
  }

  @Override
  protected Tensor doFull(Shape shape, double value, DType dtype) {
    return create(dtype, shape, a -> a.assign(value));
  }

  /** A copy keeps the layout its source is stored in (a gradient's copy feeds the same kernels). */
  @Override
  protected Tensor doCast(Tensor x, DType dtype) {
    if (dtype == x.dtype()) {
      Nd4jTensor t = own(x);
      StorageLayout layout = t.layout();
      INDArray storage = t.storage();
      return create(dtype, x.shape(), layout, out -> Nd4jArrays.memcpy(out, storage));
    }
    INDArray a = arr(x);
    return create(dtype, x.shape(), out -> out.assign(a));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  protected Tensor doAdd(Tensor a, Tensor b, Shape out) {
    return elementwise.binary(
        a,
        b,
        out,
        (x, y, z) -> {
          // Same-size float32 operands above SmallAddScaled's size: oneDNN's sum (one rounding,
          // as libnd4j's; no op object and shape checks per call). Broadcasts stay on libnd4j.
          if (x.length() > SmallAddScaled.MAX_VALUES && OneDnnSum.serves(x, List.of(y), z)) {
            OneDnnSum.compute(x, ONE, List.of(y), z);
          } else {
            Nd4j.exec(new AddOp(x, y, z));
          }
        });
  }

  private static final double[] ONE = {1.0};

  @Override
  protected Tensor doSub(Tensor a, Tensor b, Shape out) {
    return elementwise.binary(a, b, out, (x, y, z) -> Nd4j.exec(new SubOp(x, y, z)));
  }

  @Override
  protected Tensor doMul(Tensor a, Tensor b, Shape out) {
    return elementwise.binary(a, b, out, (x, y, z) -> Nd4j.exec(new MulOp(x, y, z)));
  }

  @Override
  protected Tensor doDiv(Tensor a, Tensor b, Shape out) {
    return elementwise.binary(a, b, out, (x, y, z) -> Nd4j.exec(new DivOp(x, y, z)));
  }

  /**
   * The mask {@code y > 0} written into the result and multiplied by {@code g} in place: two of
   * libnd4j's vectorized legacy passes and no temporary, bit for bit the SPI's default ({@code g ·
   * mask}, so a NaN in {@code g} stays NaN under the mask). libnd4j's one-pass {@code
   * ThresholdReluBp} is several times slower than the two (measured in docs/fused-kernels.md).
   * Float32 takes oneDNN's one-pass kernel instead ({@link OneDnnReluBackward}).
   */
  @Override
  protected Tensor doReluBackward(Tensor y, Tensor g) {
    return elementwise.binary(
        y,
        g,
        y.shape(),
        (x, d, z) -> {
          if (OneDnnReluBackward.serves(x, d, z)) {
            OneDnnReluBackward.compute(x, d, z);
          } else {
            Nd4j.exec(new Step(x, z, 0.0));
            Nd4j.exec(new MulOp(z, d, z));
          }
        });
  }

  /**
   * Each term scaled into the new result and added to it in place: one allocation per term instead
   * of two, and bit for bit the default's rounding ({@code from + c·k}, two roundings). libnd4j's
   * {@code axpy} is not used: its fused multiply-add rounds differently in its vector loop and its
   * tail, so a recomputation in another layout would not reproduce the forward pass exactly. Small
   * tensors are summed in Java ({@link SmallAddScaled}), with the same roundings.
   */
  @Override
  protected Tensor doAddScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    if (SmallAddScaled.serves(base, terms)) {
      return create(
          base.dtype(), base.shape(), z -> SmallAddScaled.compute(base, coefficients, terms, z));
    }
    Tensor fused = oneDnnAddScaled(base, coefficients, terms);
    if (fused != null) {
      return fused;
    }
    Tensor acc = null;
    for (int i = 0; i < coefficients.length; i++) {
      double c = coefficients[i];
      if (c == 0) {
        continue;
      }
      Tensor next =
          elementwise.binary(
              terms.get(i),
              acc == null ? base : acc,
              base.shape(),
              (k, y, z) -> {
                Nd4j.exec(new ScalarMultiplication(k, null, z, c));
                Nd4j.exec(new AddOp(y, z, z));
              });
      if (acc != null) {
        acc.close();
      }
      acc = next;
    }
    return acc == null ? copy(base) : acc;
  }

  /**
   * {@code base + Σ cᵢ·termsᵢ} in one pass ({@link OneDnnSum}) when every operand is float32 of
   * base's shape stored in base's layout; else null.
   */
  private Tensor oneDnnAddScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    Nd4jTensor b = own(base);
    List<INDArray> storages = new java.util.ArrayList<>(terms.size());
    for (Tensor t : terms) {
      Nd4jTensor term = own(t);
      if (term.layout() != b.layout() || !t.shape().equals(base.shape())) {
        return null;
      }
      storages.add(term.storage());
    }
    if (!OneDnnSum.serves(b.storage(), storages, b.storage())) {
      return null;
    }
    return create(
        base.dtype(),
        base.shape(),
        b.layout(),
        z -> OneDnnSum.compute(b.storage(), coefficients, storages, z));
  }

  @Override
  protected Tensor doAddScalar(Tensor x, double s) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new ScalarAdd(a, null, z, s)));
  }

  @Override
  protected Tensor doMulScalar(Tensor x, double s) {
    return elementwise.unary(
        x,
        (a, z) -> {
          // Above SmallAddScaled's size, oneDNN's one-source sum: the same single rounding
          // without libnd4j's per-call scalar array (docs/fused-kernels.md).
          if (a.length() > SmallAddScaled.MAX_VALUES && OneDnnSum.serves(a, List.of(), z)) {
            OneDnnSum.scale(a, s, z);
          } else {
            Nd4j.exec(new ScalarMultiplication(a, null, z, s));
          }
        });
  }

  @Override
  protected Tensor doPowScalar(Tensor x, double p) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Pow(a, z, p)));
  }

  @Override
  protected Tensor doNeg(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Negative(a, z)));
  }

  @Override
  protected Tensor doExp(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Exp(a, z)));
  }

  @Override
  protected Tensor doLog(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Log(a, z)));
  }

  @Override
  protected Tensor doSqrt(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Sqrt(a, z)));
  }

  @Override
  protected Tensor doSquare(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new MulOp(a, a, z)));
  }

  @Override
  protected Tensor doRelu(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new RectifiedLinear(a, z, 0.0)));
  }

  @Override
  protected Tensor doTanh(Tensor x) {
    return elementwise.unary(x, (a, z) -> Nd4j.exec(new Tanh(a, z)));
  }

  /**
   * {@code a > b ⟺ a − b > 0} exactly in IEEE arithmetic (gradual underflow), inf−inf gives 0.
   * Against a single value (ReLU's mask compares with 0) it is one comparison pass instead.
   */
  @Override
  protected Tensor doGreaterThan(Tensor a, Tensor b, Shape out) {
    if (b.shape().numel() == 1 && out.equals(a.shape())) {
      double v = arr(b).getDouble(0);
      return elementwise.unary(a, (x, z) -> Nd4j.exec(new Step(x, z, v)));
    }
    return elementwise.binary(
        a,
        b,
        out,
        (x, y, z) -> {
          Nd4j.exec(new SubOp(x, y, z));
          Nd4j.exec(new Step(z, z, 0.0));
        });
  }

  @Override
  protected Tensor doWhere(Tensor mask, Tensor a, Tensor b, Shape out) {
    INDArray m = arr(mask);
    INDArray x = arr(a);
    INDArray y = arr(b);
    return create(
        a.dtype(),
        out,
        z -> {
          try (Nd4jScratch s = new Nd4jScratch()) {
            INDArray cond = s.expand(m, out).neq(0.0); // a small BOOL array that ND4J owns
            try {
              Nd4j.exec(
                  DynamicCustomOp.builder("select")
                      .addInputs(cond, s.expand(x, out), s.expand(y, out))
                      .addOutputs(z)
                      .build());
            } finally {
              cond.close();
            }
          }
        });
  }

  @Override
  protected Tensor doBroadcastTo(Tensor x, Shape shape) {
    if (x.shape().numel() == 1 && ChannelsLastLayout.broadcast(x.dtype(), shape)) {
      // A single value (the gradient of a mean loss) fills any layout alike: written in the one
      // the convolutions keep, nothing converts it later.
      double value = arr(x).getDouble(0);
      StorageLayout blocked = OneDnn.enabled() ? OneDnn.blockedLayout() : null;
      StorageLayout layout = blocked != null && blocked.fits(shape) ? blocked : StorageLayout.NHWC;
      return create(x.dtype(), shape, layout, z -> z.assign(value));
    }
    INDArray a = arr(x);
    if (ChannelsLastLayout.broadcast(x.dtype(), shape)) {
      // An image-sized broadcast is the gradient of a mean or a global average pool, and what reads
      // it next is a convolution's backward in NHWC: written channels-last, it needs no NHWC copy.
      return create(
          x.dtype(),
          shape,
          StorageLayout.NHWC,
          z -> Nd4jArrays.broadcastInto(a, StorageLayout.NHWC.nchwView(z, shape)));
    }
    return create(x.dtype(), shape, z -> Nd4jArrays.broadcastInto(a, z));
  }

  // ---- reductions -----------------------------------------------------------------------------

  private interface ReduceOp {
    void exec(INDArray x, INDArray out, int[] axes);
  }

  /**
   * A reduction on the storage as it is when its layout allows ({@link StorageLayout#reducedAxes}),
   * so that a gradient the next convolution reads blocked is not turned into NCHW for its bias
   * gradient; else on NCHW, to which the tensor then turns once.
   */
  private Tensor reduce(Tensor x, boolean keepDims, int[] ax, ReduceOp f) {
    Nd4jTensor t = own(x);
    int[] axes = t.layout().reducedAxes(x.shape(), ax);
    if (axes == null) {
      t.array();
      axes = ax;
    }
    INDArray storage = t.storage();
    int[] reduced = axes;
    // The kernel writes the keep-dims shape of the storage; other shapes of it hold the same bytes.
    Shape written = Checks.reducedShape(t.layout().storageShape(x.shape()), reduced, true);
    return create(
        x.dtype(),
        Checks.reducedShape(x.shape(), ax, keepDims),
        z -> f.exec(storage, z.reshape('c', written.dimsAsLong()), reduced));
  }

  @Override
  protected Tensor doSum(Tensor x, boolean keepDims, int[] axes) {
    return reduce(x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Sum(a, z, true, ax)));
  }

  @Override
  protected Tensor doMean(Tensor x, boolean keepDims, int[] axes) {
    return reduce(x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Mean(a, z, true, ax)));
  }

  @Override
  protected Tensor doMax(Tensor x, boolean keepDims, int[] axes) {
    return reduce(x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Max(a, z, true, ax)));
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  protected Tensor doReshape(Tensor x, Shape shape) {
    INDArray a = arr(x);
    return create(x.dtype(), shape, z -> Nd4jArrays.memcpy(z, a));
  }

  @Override
  protected Tensor doPermute(Tensor x, int[] axes) {
    INDArray a = arr(x);
    int[] dims = new int[axes.length];
    for (int i = 0; i < axes.length; i++) {
      dims[i] = x.shape().dim(axes[i]);
    }
    return create(x.dtype(), Shape.of(dims), z -> z.assign(a.permute(axes)));
  }

  @Override
  protected Tensor doConcat(List<Tensor> parts, int ax, Shape out) {
    INDArray[] arrays = new INDArray[parts.size()];
    for (int i = 0; i < arrays.length; i++) {
      arrays[i] = arr(parts.get(i));
    }
    return create(parts.get(0).dtype(), out, z -> Nd4jArrays.concatInto(arrays, ax, z));
  }

  @Override
  protected Tensor doSlice(Tensor x, int ax, int start, int end, Shape out) {
    INDArray a = arr(x);
    return create(x.dtype(), out, z -> z.assign(Nd4jArrays.sliceView(a, ax, start, end)));
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  protected Tensor doMatmul(Tensor a, Tensor b, Shape out) {
    INDArray x = arr(a);
    INDArray y = arr(b);
    return create(
        a.dtype(),
        out,
        z -> Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(x, y).addOutputs(z).build()));
  }

  @Override
  protected Tensor doConv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    return convolutions.conv2d(x, w, bias, spec, out);
  }

  @Override
  protected BatchNormResult doBatchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    BatchNormResult fused = batchNorm.forward(x, gamma, beta, eps);
    return fused != null ? fused : super.doBatchNorm(x, gamma, beta, eps);
  }

  @Override
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
    BatchNormGradients fused =
        batchNorm.backward(x, gamma, mean, variance, eps, g, input, wantGamma, wantBeta);
    return fused != null
        ? fused
        : super.doBatchNormBackward(x, gamma, mean, variance, eps, g, input, wantGamma, wantBeta);
  }

  @Override
  protected Tensor doConv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    Tensor fused = convolutions.conv2dRelu(x, w, bias, spec, out);
    return fused != null ? fused : super.doConv2dRelu(x, w, bias, spec, out);
  }

  @Override
  protected Conv2dGradients doConv2dBackward(Conv2dBackwardArgs args) {
    return convolutions.conv2dBackward(args);
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  @Override
  protected Tensor doAvgPool2d(Tensor x, Pool2dSpec spec, Shape out) {
    return pooling.avgPool2d(x, spec, out);
  }

  @Override
  protected Tensor doAvgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    return pooling.avgPool2dBackward(gradOut, inputShape, spec);
  }

  @Override
  protected Tensor doGlobalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    return pooling.globalAvgPoolBackward(gradOut, inputShape);
  }

  /**
   * {@code x − max − log Σ exp(x − max)} along {@code axis}, composed here because libnd4j's {@code
   * log_softmax} takes the log of the softmax: a logit 115 below the largest gives −∞ in float32
   * where the true value is finite.
   */
  @Override
  protected Tensor doLogSoftmax(Tensor x, int ax) {
    return TensorScope.keepResult(
        () -> {
          Tensor shifted = sub(x, max(x, true, ax));
          return sub(shifted, log(sum(exp(shifted), true, ax)));
        });
  }
}
