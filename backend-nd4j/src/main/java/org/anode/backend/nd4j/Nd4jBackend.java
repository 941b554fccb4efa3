package org.anode.backend.nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Checks;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
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
import org.nd4j.linalg.api.ops.impl.transforms.gradient.ThresholdReluBp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.api.ops.impl.transforms.same.Negative;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Exp;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Log;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Tanh;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
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
final class Nd4jBackend implements Backend {
  private final int threads;

  Nd4jBackend(BackendOptions options) {
    if (options.threads() > 0) {
      // libnd4j's own pool and the OpenMP runtime that oneDNN uses are set separately.
      Nd4j.getEnvironment().setMaxThreads(options.threads());
      Nd4j.getEnvironment().setMaxMasterThreads(options.threads());
      NativeOpsHolder.getInstance().getDeviceNativeOps().setOmpNumThreads(options.threads());
    }
    this.threads = NativeOpsHolder.getInstance().getDeviceNativeOps().ompGetMaxThreads();
  }

  @Override
  public String name() {
    return Nd4jProvider.NAME;
  }

  @Override
  public int threads() {
    return threads;
  }

  // ---- memory ---------------------------------------------------------------------------------

  private Nd4jTensor own(String op, Tensor t) {
    Checks.onBackend(op, this, t);
    return (Nd4jTensor) t;
  }

  /** {@code t}'s values as a C-ordered array of its shape (NCHW for rank 4). */
  private INDArray arr(String op, Tensor t) {
    return own(op, t).array();
  }

  private static DType dtypeOf(INDArray a) {
    return switch (a.dataType()) {
      case FLOAT -> DType.FLOAT32;
      case DOUBLE -> DType.FLOAT64;
      default -> throw new IllegalStateException("nd4j: unexpected type " + a.dataType());
    };
  }

  /** A new tensor of {@code shape} whose contents {@code fill} writes. */
  private Tensor create(DType dtype, Shape shape, java.util.function.Consumer<INDArray> fill) {
    return create(dtype, shape, false, fill);
  }

  /**
   * A new tensor of {@code shape} whose contents {@code fill} writes: kept channels-last when
   * {@code channelsLast} (rank 4; {@code fill} then writes a C-ordered {@code [N, H, W, C]} array).
   */
  private Tensor create(
      DType dtype, Shape shape, boolean channelsLast, java.util.function.Consumer<INDArray> fill) {
    Nd4jMemory.Block b =
        Nd4jMemory.scratch(dtype, channelsLast ? Nd4jTensor.channelsLastShape(shape) : shape);
    try {
      fill.accept(b.array());
    } catch (RuntimeException | Error e) {
      b.free();
      throw e;
    }
    return new Nd4jTensor(this, b.handOver(), shape, dtype, channelsLast);
  }

  /** Scratch memory freed when the kernel returns. */
  private static final class Scratch implements AutoCloseable {
    private final List<Nd4jMemory.Block> blocks = new ArrayList<>();

    INDArray get(DType dtype, Shape shape) {
      Nd4jMemory.Block b = Nd4jMemory.scratch(dtype, shape);
      blocks.add(b);
      return b.array();
    }

    /** {@code a} broadcast to {@code shape} (the same array when it already has that shape). */
    INDArray expand(INDArray a, Shape shape) {
      if (Arrays.equals(a.shape(), shape.dimsAsLong())) {
        return a;
      }
      INDArray out = get(dtypeOf(a), shape);
      broadcastInto(a, out);
      return out;
    }

    /** {@code t} as a C-ordered {@code [N, H, W, C]} array: its own, or a copy of its values. */
    INDArray channelsLast(Nd4jTensor t) {
      INDArray own = t.channelsLastOrNull();
      if (own != null) {
        return own;
      }
      INDArray nchw = t.array();
      INDArray out = get(dtypeOf(nchw), Nd4jTensor.channelsLastShape(t.shape()));
      out.assign(nchw.permute(0, 2, 3, 1));
      return out;
    }

    /** A C-ordered copy of a view, such as one group's channels. */
    INDArray copy(INDArray view) {
      INDArray out = get(dtypeOf(view), Shape.of(toInt(view.shape())));
      out.assign(view);
      return out;
    }

    @Override
    public void close() {
      blocks.forEach(Nd4jMemory.Block::free);
    }
  }

  /** {@code out = broadcast(a)}, exactly: {@code 0 + a}. */
  private static void broadcastInto(INDArray a, INDArray out) {
    out.assign(0.0);
    Nd4j.exec(new AddOp(out, a, out));
  }

  private static int[] toInt(long[] dims) {
    int[] out = new int[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = Math.toIntExact(dims[i]);
    }
    return out;
  }

  /** Bytewise copy between two C-ordered arrays of the same dtype and element count. */
  private static void memcpy(INDArray dst, INDArray src) {
    long bytes = src.length() * src.dataType().width();
    Pointer.memcpy(dst.data().addressPointer(), src.data().addressPointer(), bytes);
  }

  // ---- creation -------------------------------------------------------------------------------

  @Override
  public Tensor fromArray(float[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return create(DType.FLOAT32, shape, a -> ((FloatPointer) a.data().addressPointer()).put(data));
  }

  @Override
  public Tensor fromArray(double[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return create(DType.FLOAT64, shape, a -> ((DoublePointer) a.data().addressPointer()).put(data));
  }

  @Override
  public Tensor full(Shape shape, double value, DType dtype) {
    return create(dtype, shape, a -> a.assign(value));
  }

  @Override
  public Tensor cast(Tensor x, DType dtype) {
    INDArray a = arr("cast", x);
    if (dtype == x.dtype()) {
      return create(dtype, x.shape(), out -> memcpy(out, a));
    }
    return create(dtype, x.shape(), out -> out.assign(a));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  private interface PairOp {
    void exec(INDArray a, INDArray b, INDArray out);
  }

  /**
   * An elementwise op of two operands. When either is kept channels-last and the other has the same
   * shape or is a single value, the op runs in that layout and so does its result (an NCHW operand
   * of the same shape is copied to it): elementwise ops do not care about the order of the values,
   * and the layout stays what the next convolution reads.
   */
  private Tensor binary(String op, Tensor a, Tensor b, PairOp f) {
    Nd4jTensor ta = own(op, a);
    Nd4jTensor tb = own(op, b);
    Shape out = Checks.broadcast(op, a, b);
    boolean channelsLast = ta.channelsLastOrNull() != null || tb.channelsLastOrNull() != null;
    if (channelsLast && fitsChannelsLast(a, out) && fitsChannelsLast(b, out)) {
      return create(
          a.dtype(),
          out,
          true,
          z -> {
            try (Scratch s = new Scratch()) {
              INDArray x = a.shape().equals(out) ? s.channelsLast(ta) : ta.array();
              INDArray y = b.shape().equals(out) ? s.channelsLast(tb) : tb.array();
              f.exec(x, y, z);
            }
          });
    }
    INDArray x = ta.array();
    INDArray y = tb.array();
    return create(a.dtype(), out, z -> f.exec(x, y, z));
  }

  /** Whether an operand of {@code shape} can join a channels-last op with result {@code out}. */
  private static boolean fitsChannelsLast(Tensor t, Shape out) {
    return t.shape().equals(out) || t.shape().numel() == 1;
  }

  @Override
  public Tensor add(Tensor a, Tensor b) {
    return binary("add", a, b, (x, y, z) -> Nd4j.exec(new AddOp(x, y, z)));
  }

  @Override
  public Tensor sub(Tensor a, Tensor b) {
    return binary("sub", a, b, (x, y, z) -> Nd4j.exec(new SubOp(x, y, z)));
  }

  @Override
  public Tensor mul(Tensor a, Tensor b) {
    return binary("mul", a, b, (x, y, z) -> Nd4j.exec(new MulOp(x, y, z)));
  }

  @Override
  public Tensor div(Tensor a, Tensor b) {
    return binary("div", a, b, (x, y, z) -> Nd4j.exec(new DivOp(x, y, z)));
  }

  /** One pass of libnd4j's {@code relu_bp} (threshold 0 on ReLU's output). */
  @Override
  public Tensor reluBackward(Tensor y, Tensor g) {
    Checks.sameDType("reluBackward", y, g);
    Checks.gradientShape("reluBackward", g, y.shape());
    return binary("reluBackward", y, g, (x, d, z) -> Nd4j.exec(new ThresholdReluBp(x, d, z, 0.0)));
  }

  /**
   * Each term scaled into the new result and added to it in place: one allocation per term instead
   * of two, and bit for bit the default's rounding ({@code from + c·k}, two roundings). libnd4j's
   * {@code axpy} is not used: its fused multiply-add rounds differently in its vector loop and its
   * tail, so a recomputation in another layout would not reproduce the forward pass exactly.
   */
  @Override
  public Tensor addScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    Checks.addScaled(base, coefficients, terms);
    Tensor acc = null;
    for (int i = 0; i < coefficients.length; i++) {
      double c = coefficients[i];
      if (c == 0) {
        continue;
      }
      Tensor next =
          binary(
              "addScaled",
              terms.get(i),
              acc == null ? base : acc,
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

  private interface UnaryOp {
    void exec(INDArray x, INDArray out);
  }

  /** An elementwise op of one operand, in the operand's layout (see {@link #binary}). */
  private Tensor unary(String op, Tensor x, UnaryOp f) {
    INDArray channelsLast = own(op, x).channelsLastOrNull();
    if (channelsLast != null) {
      return create(x.dtype(), x.shape(), true, z -> f.exec(channelsLast, z));
    }
    INDArray a = arr(op, x);
    return create(x.dtype(), x.shape(), z -> f.exec(a, z));
  }

  @Override
  public Tensor addScalar(Tensor x, double s) {
    return unary("addScalar", x, (a, z) -> Nd4j.exec(new ScalarAdd(a, null, z, s)));
  }

  @Override
  public Tensor mulScalar(Tensor x, double s) {
    return unary("mulScalar", x, (a, z) -> Nd4j.exec(new ScalarMultiplication(a, null, z, s)));
  }

  @Override
  public Tensor powScalar(Tensor x, double p) {
    return unary("powScalar", x, (a, z) -> Nd4j.exec(new Pow(a, z, p)));
  }

  @Override
  public Tensor neg(Tensor x) {
    return unary("neg", x, (a, z) -> Nd4j.exec(new Negative(a, z)));
  }

  @Override
  public Tensor exp(Tensor x) {
    return unary("exp", x, (a, z) -> Nd4j.exec(new Exp(a, z)));
  }

  @Override
  public Tensor log(Tensor x) {
    return unary("log", x, (a, z) -> Nd4j.exec(new Log(a, z)));
  }

  @Override
  public Tensor sqrt(Tensor x) {
    return unary("sqrt", x, (a, z) -> Nd4j.exec(new Sqrt(a, z)));
  }

  @Override
  public Tensor square(Tensor x) {
    return unary("square", x, (a, z) -> Nd4j.exec(new MulOp(a, a, z)));
  }

  @Override
  public Tensor relu(Tensor x) {
    return unary("relu", x, (a, z) -> Nd4j.exec(new RectifiedLinear(a, z, 0.0)));
  }

  @Override
  public Tensor tanh(Tensor x) {
    return unary("tanh", x, (a, z) -> Nd4j.exec(new Tanh(a, z)));
  }

  /**
   * {@code a > b ⟺ a − b > 0} exactly in IEEE arithmetic (gradual underflow), inf−inf gives 0.
   * Against a single value (ReLU's mask compares with 0) it is one comparison pass instead.
   */
  @Override
  public Tensor greaterThan(Tensor a, Tensor b) {
    if (b.shape().numel() == 1 && Checks.broadcast("greaterThan", a, b).equals(a.shape())) {
      double v = arr("greaterThan", b).getDouble(0);
      return unary("greaterThan", a, (x, z) -> Nd4j.exec(new Step(x, z, v)));
    }
    return binary(
        "greaterThan",
        a,
        b,
        (x, y, z) -> {
          Nd4j.exec(new SubOp(x, y, z));
          Nd4j.exec(new Step(z, z, 0.0));
        });
  }

  @Override
  public Tensor where(Tensor mask, Tensor a, Tensor b) {
    INDArray m = arr("where", mask);
    INDArray x = arr("where", a);
    INDArray y = arr("where", b);
    Checks.sameDType("where", mask, a);
    Shape out = Checks.broadcast("where", mask.shape(), Checks.broadcast("where", a, b));
    return create(
        a.dtype(),
        out,
        z -> {
          try (Scratch s = new Scratch()) {
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
  public Tensor broadcastTo(Tensor x, Shape shape) {
    INDArray a = arr("broadcastTo", x);
    Checks.broadcastableTo("broadcastTo", x.shape(), shape);
    if (x.dtype() == DType.FLOAT32
        && shape.rank() == 4
        && shape.numel() * x.dtype().byteSize() >= CHANNELS_LAST_MIN_BYTES) {
      // An image-sized broadcast is the gradient of a mean or a global average pool, and what reads
      // it next is a convolution's backward in NHWC: written channels-last, it needs no NHWC copy.
      return create(x.dtype(), shape, true, z -> broadcastInto(a, z.permute(0, 3, 1, 2)));
    }
    return create(x.dtype(), shape, z -> broadcastInto(a, z));
  }

  // ---- reductions -----------------------------------------------------------------------------

  private interface ReduceOp {
    void exec(INDArray x, INDArray out, int[] axes);
  }

  private Tensor reduce(String op, Tensor x, boolean keepDims, int[] axes, ReduceOp f) {
    INDArray a = arr(op, x);
    int[] ax = Checks.axes(op, x.shape(), axes);
    Shape kept = Checks.reducedShape(x.shape(), ax, true);
    Shape out = Checks.reducedShape(x.shape(), ax, keepDims);
    // The kernel writes the keep-dims layout; dropping size-1 axes keeps the same bytes.
    return create(x.dtype(), out, z -> f.exec(a, z.reshape('c', kept.dimsAsLong()), ax));
  }

  @Override
  public Tensor sum(Tensor x, boolean keepDims, int... axes) {
    return reduce("sum", x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Sum(a, z, true, ax)));
  }

  @Override
  public Tensor mean(Tensor x, boolean keepDims, int... axes) {
    return reduce("mean", x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Mean(a, z, true, ax)));
  }

  @Override
  public Tensor max(Tensor x, boolean keepDims, int... axes) {
    return reduce("max", x, keepDims, axes, (a, z, ax) -> Nd4j.exec(new Max(a, z, true, ax)));
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  public Tensor reshape(Tensor x, Shape shape) {
    INDArray a = arr("reshape", x);
    Checks.reshape(x, shape);
    return create(x.dtype(), shape, z -> memcpy(z, a));
  }

  @Override
  public Tensor permute(Tensor x, int... axes) {
    INDArray a = arr("permute", x);
    Checks.permutation(x, axes);
    int[] dims = new int[axes.length];
    for (int i = 0; i < axes.length; i++) {
      dims[i] = x.shape().dim(axes[i]);
    }
    return create(x.dtype(), Shape.of(dims), z -> z.assign(a.permute(axes)));
  }

  @Override
  public Tensor concat(List<Tensor> parts, int axis) {
    Shape out = Checks.concat(parts, axis);
    int ax = out.normalizeAxis(axis);
    INDArray[] arrays = new INDArray[parts.size()];
    for (int i = 0; i < arrays.length; i++) {
      arrays[i] = arr("concat", parts.get(i));
    }
    return create(parts.get(0).dtype(), out, z -> concatInto(arrays, ax, z));
  }

  private static void concatInto(INDArray[] arrays, int axis, INDArray out) {
    if (arrays.length == 1) {
      memcpy(out, arrays[0]);
      return;
    }
    Nd4j.exec(
        DynamicCustomOp.builder("concat")
            .addInputs(arrays)
            .addOutputs(out)
            .addIntegerArguments(axis)
            .build());
  }

  private static INDArray sliceView(INDArray a, int axis, int start, int end) {
    INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
    for (int d = 0; d < idx.length; d++) {
      idx[d] = d == axis ? NDArrayIndex.interval(start, end) : NDArrayIndex.all();
    }
    return a.get(idx);
  }

  @Override
  public Tensor slice(Tensor x, int axis, int start, int end) {
    INDArray a = arr("slice", x);
    Shape out = Checks.slice(x, axis, start, end);
    int ax = x.shape().normalizeAxis(axis);
    return create(x.dtype(), out, z -> z.assign(sliceView(a, ax, start, end)));
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  public Tensor matmul(Tensor a, Tensor b) {
    INDArray x = arr("matmul", a);
    INDArray y = arr("matmul", b);
    Shape out = Checks.matmul(a, b);
    return create(
        a.dtype(),
        out,
        z -> Nd4j.exec(DynamicCustomOp.builder("matmul").addInputs(x, y).addOutputs(z).build()));
  }

  private static int[] convArgs(Shape w, Conv2dSpec s, boolean nhwc) {
    return new int[] {
      w.dim(2),
      w.dim(3),
      s.strideH(),
      s.strideW(),
      s.padH(),
      s.padW(),
      s.dilationH(),
      s.dilationW(),
      0, // explicit padding
      nhwc ? 1 : 0, // data format: NHWC or NCHW
      1 // weights [out, in, kH, kW]
    };
  }

  private void checkConv(String op, Tensor x, Tensor w, Tensor bias) {
    own(op, x);
    own(op, w);
    if (bias != null) {
      own(op, bias);
    }
    Checks.convolution(op, x, w, bias);
  }

  @Override
  public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    checkConv("conv2d", x, w, bias);
    Shape outShape = spec.outputShape(x.shape(), w.shape());
    Nd4jTensor tx = own("conv2d", x);
    INDArray wa = arr("conv2d", w);
    INDArray ba = bias == null ? null : arr("conv2d", bias);
    int g = spec.groups();
    if (channelsLastKernel(x.dtype(), spec)) {
      INDArray xl = tx.channelsLastOrNull();
      if (xl != null || outShape.numel() * x.dtype().byteSize() >= CHANNELS_LAST_MIN_BYTES) {
        // oneDNN's direct kernel reads and writes NHWC. A channels-last input is read as it is; an
        // NCHW one is reordered by oneDNN. The output stays channels-last: handed an NCHW output,
        // oneDNN reorders it in a transpose that costs ~half a convolution.
        INDArray xa = xl != null ? xl : tx.array();
        return create(
            x.dtype(),
            outShape,
            true,
            z -> {
              if (xl != null) {
                conv(xa, wa, ba, w.shape(), spec, true, z);
              } else {
                conv(xa, wa, ba, w.shape(), spec, false, z.permute(0, 3, 1, 2));
              }
            });
      }
    }
    INDArray xa = tx.array();
    if (g == 1) {
      return create(x.dtype(), outShape, z -> conv(xa, wa, ba, w.shape(), spec, false, z));
    }
    int cin = x.shape().dim(1) / g;
    int cout = w.shape().dim(0) / g;
    Shape wg = w.shape().with(0, cout);
    return create(
        x.dtype(),
        outShape,
        z -> {
          try (Scratch s = new Scratch()) {
            INDArray[] outs = new INDArray[g];
            for (int i = 0; i < g; i++) {
              outs[i] = s.get(x.dtype(), outShape.with(1, cout));
              conv(
                  s.copy(sliceView(xa, 1, i * cin, (i + 1) * cin)),
                  s.copy(sliceView(wa, 0, i * cout, (i + 1) * cout)),
                  ba == null ? null : s.copy(sliceView(ba, 0, i * cout, (i + 1) * cout)),
                  wg,
                  spec,
                  false,
                  outs[i]);
            }
            concatInto(outs, 1, z);
          }
        });
  }

  /**
   * libnd4j's {@code conv2d}: {@code x} and {@code out} are {@code [N, H, W, C]} when {@code nhwc},
   * else NCHW (possibly views with other strides, which oneDNN reads as they are).
   */
  private static void conv(
      INDArray x,
      INDArray w,
      INDArray b,
      Shape wShape,
      Conv2dSpec spec,
      boolean nhwc,
      INDArray out) {
    DynamicCustomOp.DynamicCustomOpsBuilder op =
        DynamicCustomOp.builder("conv2d").addIntegerArguments(convArgs(wShape, spec, nhwc));
    op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
    execConv(op.addOutputs(out).build(), spec);
  }

  /**
   * A float32 convolution whose output has at least this many bytes (or whose input is already
   * channels-last) writes a channels-last result. Measured on 2 AVX-512 cores (ND4J 1.0.0-M2.1 with
   * oneDNN, batch 32): an NHWC output took 0.59–0.95 of the time of an NCHW one for every output of
   * 4 MiB or more (3×3 at 64 channels and 32×32, 128 and 16×16, stride 2, 1×1) and 0.95–1.37 below
   * it (16 channels at 32×32, 128 at 4×4); an NHWC input saves oneDNN's reorder of it (1.5 ms of an
   * 11 ms 3×3 convolution at 64 channels, 32×32, batch 32). The system property {@value
   * #CHANNELS_LAST_PROPERTY} overrides it (0: every float32 convolution; tests use that).
   */
  static final long CHANNELS_LAST_MIN_BYTES =
      Long.getLong(Nd4jBackend.CHANNELS_LAST_PROPERTY, 4L << 20);

  static final String CHANNELS_LAST_PROPERTY = "anode.nd4j.channelsLastMinBytes";

  /** Whether oneDNN's NHWC kernels serve this convolution: float32, not dilated, not grouped. */
  private static boolean channelsLastKernel(DType dtype, Conv2dSpec spec) {
    return dtype == DType.FLOAT32
        && spec.groups() == 1
        && spec.dilationH() == 1
        && spec.dilationW() == 1;
  }

  /**
   * Runs a convolution op. ND4J 1.0.0-M2.1 hands dilations to oneDNN in a form oneDNN rejects
   * ("could not create a descriptor for a dilated convolution"), so dilated convolutions run on
   * libnd4j's own kernels with the oneDNN helpers switched off for that call.
   */
  private static void execConv(DynamicCustomOp op, Conv2dSpec spec) {
    if (spec.dilationH() == 1 && spec.dilationW() == 1) {
      Nd4j.exec(op);
      return;
    }
    synchronized (Nd4jBackend.class) {
      boolean helpers = Nd4j.getEnvironment().helpersAllowed();
      Nd4j.getEnvironment().allowHelpers(false);
      try {
        Nd4j.exec(op);
      } finally {
        Nd4j.getEnvironment().allowHelpers(helpers);
      }
    }
  }

  @Override
  public Tensor conv2dBackwardInput(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    try (Tensor x = zeros(inputShape, w.dtype())) {
      return conv2dBackward(x, w, gradOut, spec, true, false).input();
    }
  }

  @Override
  public Tensor conv2dBackwardWeight(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    try (Tensor w = zeros(weightShape, x.dtype())) {
      return conv2dBackward(x, w, gradOut, spec, false, true).weight();
    }
  }

  /**
   * libnd4j's {@code conv2d_bp} yields both gradients from one call. When the input or the output
   * gradient is kept channels-last, the call runs in NHWC (the other operand copied to it) and the
   * input gradient is channels-last too: oneDNN reorders NHWC operands to its blocked layouts no
   * slower than NCHW ones, while NCHW views of NHWC memory took it twice as long.
   */
  @Override
  public Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    checkConv("conv2dBackward", x, w, null);
    Nd4jTensor tg = own("conv2dBackward", gradOut);
    Checks.convolutionGradient("conv2dBackward", x.shape(), w, gradOut, spec);
    Nd4jTensor tx = own("conv2dBackward", x);
    INDArray wa = arr("conv2dBackward", w);
    boolean nhwc =
        channelsLastKernel(x.dtype(), spec)
            && (tx.channelsLastOrNull() != null || tg.channelsLastOrNull() != null);
    DType dt = x.dtype();
    int g = spec.groups();
    Shape gxShape = nhwc ? Nd4jTensor.channelsLastShape(x.shape()) : x.shape();
    // libnd4j always writes both gradients: the one not requested goes to scratch memory.
    Nd4jMemory.Block gxBlock = input ? Nd4jMemory.scratch(dt, gxShape) : null;
    Nd4jMemory.Block gwBlock = weight ? Nd4jMemory.scratch(dt, w.shape()) : null;
    try (Scratch s = new Scratch()) {
      INDArray gx = gxBlock != null ? gxBlock.array() : s.get(dt, gxShape);
      INDArray gw = gwBlock != null ? gwBlock.array() : s.get(dt, w.shape());
      if (nhwc) {
        convBp(s.channelsLast(tx), wa, s.channelsLast(tg), w.shape(), spec, true, gx, gw);
      } else if (g == 1) {
        convBp(tx.array(), wa, tg.array(), w.shape(), spec, false, gx, gw);
      } else {
        INDArray xa = tx.array();
        INDArray ga = tg.array();
        int cin = x.shape().dim(1) / g;
        int cout = w.shape().dim(0) / g;
        Shape wg = w.shape().with(0, cout);
        INDArray[] gxs = new INDArray[g];
        INDArray[] gws = new INDArray[g];
        for (int i = 0; i < g; i++) {
          gxs[i] = s.get(dt, x.shape().with(1, cin));
          gws[i] = s.get(dt, wg);
          convBp(
              s.copy(sliceView(xa, 1, i * cin, (i + 1) * cin)),
              s.copy(sliceView(wa, 0, i * cout, (i + 1) * cout)),
              s.copy(sliceView(ga, 1, i * cout, (i + 1) * cout)),
              wg,
              spec,
              false,
              gxs[i],
              gws[i]);
        }
        concatInto(gxs, 1, gx);
        concatInto(gws, 0, gw);
      }
    } catch (RuntimeException | Error e) {
      if (gxBlock != null) {
        gxBlock.free();
      }
      if (gwBlock != null) {
        gwBlock.free();
      }
      throw e;
    }
    return new Conv2dGradients(
        gxBlock == null ? null : new Nd4jTensor(this, gxBlock.handOver(), x.shape(), dt, nhwc),
        gwBlock == null ? null : new Nd4jTensor(this, gwBlock.handOver(), w.shape(), dt, false));
  }

  private static void convBp(
      INDArray x,
      INDArray w,
      INDArray gradOut,
      Shape wShape,
      Conv2dSpec spec,
      boolean nhwc,
      INDArray gx,
      INDArray gw) {
    execConv(
        DynamicCustomOp.builder("conv2d_bp")
            .addInputs(x, w, gradOut)
            .addOutputs(gx, gw)
            .addIntegerArguments(convArgs(wShape, spec, nhwc))
            .build(),
        spec);
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  private static int[] poolArgs(Pool2dSpec s) {
    return new int[] {
      s.kernelH(),
      s.kernelW(),
      s.strideH(),
      s.strideW(),
      s.padH(),
      s.padW(),
      1,
      1,
      0, // explicit padding
      1, // divide by kH*kW: padding counts as zeros
      0 // NCHW
    };
  }

  @Override
  public Tensor avgPool2d(Tensor x, Pool2dSpec spec) {
    INDArray a = arr("avgPool2d", x);
    Shape out = spec.outputShape(x.shape());
    return create(
        x.dtype(),
        out,
        z ->
            Nd4j.exec(
                DynamicCustomOp.builder("avgpool2d")
                    .addInputs(a)
                    .addOutputs(z)
                    .addIntegerArguments(poolArgs(spec))
                    .build()));
  }

  @Override
  public Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    INDArray g = arr("avgPool2dBackward", gradOut);
    Shape out = spec.outputShape(inputShape);
    Checks.gradientShape("avgPool2dBackward", gradOut, out);
    return create(
        gradOut.dtype(),
        inputShape,
        gx -> {
          try (Scratch s = new Scratch()) {
            INDArray x = s.get(gradOut.dtype(), inputShape); // only its shape is read
            Nd4j.exec(
                DynamicCustomOp.builder("avgpool2d_bp")
                    .addInputs(x, g)
                    .addOutputs(gx)
                    .addIntegerArguments(poolArgs(spec))
                    .build());
          }
        });
  }

  @Override
  public Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    INDArray g = arr("globalAvgPoolBackward", gradOut);
    Shape expected = Shape.of(inputShape.dim(0), inputShape.dim(1), 1, 1);
    Checks.gradientShape("globalAvgPoolBackward", gradOut, expected);
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    return create(
        gradOut.dtype(),
        inputShape,
        z -> {
          broadcastInto(g, z);
          Nd4j.exec(new ScalarMultiplication(z, null, z, scale));
        });
  }

  /**
   * {@code x − max − log Σ exp(x − max)} along {@code axis}, composed here because libnd4j's {@code
   * log_softmax} takes the log of the softmax: a logit 115 below the largest gives −∞ in float32
   * where the true value is finite.
   */
  @Override
  public Tensor logSoftmax(Tensor x, int axis) {
    arr("logSoftmax", x);
    int ax = x.shape().normalizeAxis(axis);
    return TensorScope.keepResult(
        () -> {
          Tensor shifted = sub(x, max(x, true, ax));
          return sub(shifted, log(sum(exp(shifted), true, ax)));
        });
  }
}
