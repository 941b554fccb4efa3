package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.anode.api.AbstractBackend;
import org.anode.api.BackendOptions;
import org.anode.api.Conv2dBackwardArgs;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.tensorflow.Operand;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.family.TType;

/**
 * The anode kernels on TensorFlow Java 1.1.0 (TensorFlow 2.18), CPU. Each kernel signature is
 * compiled once into a small graph run by its own session ({@link TfKernel}); results are fetched
 * tensors that anode owns and frees at close. The api is NCHW, but TensorFlow's CPU kernels for
 * float64 convolutions, explicit-padding input gradients and pooling exist only for NHWC, so
 * convolutions and pooling transpose to NHWC inside their graph (OIHW weights to HWIO) and back.
 * Average pooling with padding pads with zeros explicitly, so padding counts in the average as in
 * the other backends; grouped convolutions are split per group (TensorFlow's CPU Conv2D has no
 * groups).
 */
@SuppressWarnings({"unchecked", "rawtypes"})
final class TfBackend extends AbstractBackend {
  private final int threads;
  private final ConfigProto config;
  private final TfKernelCache kernels;
  private final TfConvolutions convolutions;
  private final TfFusedKernels fused;
  private final TfReductions reductions;
  private final TfPooling pooling;

  TfBackend(BackendOptions options) {
    this.threads =
        options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
    this.config =
        ConfigProto.newBuilder()
            .setIntraOpParallelismThreads(threads)
            // negative: each graph runs in the calling thread instead of being handed to an
            // inter-op pool and back, a fixed cost per session run that small kernels feel
            // (docs/fused-kernels.md); the kernels' own threads are the intra-op pool
            .setInterOpParallelismThreads(-1)
            .build();
    this.kernels = new TfKernelCache(this, config);
    this.convolutions = new TfConvolutions(kernels);
    this.fused = new TfFusedKernels(kernels);
    this.reductions = new TfReductions(kernels);
    this.pooling = new TfPooling(kernels);
  }

  @Override
  public List<String> kernels() {
    String onednn = System.getenv("TF_ENABLE_ONEDNN_OPTS");
    boolean off = "0".equals(onednn) || "false".equalsIgnoreCase(onednn);
    return List.of(
        "TensorFlow "
            + org.tensorflow.TensorFlow.version()
            + " through TensorFlow Java, CPU kernels on NHWC activations, "
            + (off ? "its oneDNN kernels off (TF_ENABLE_ONEDNN_OPTS=0)" : "its oneDNN kernels on"),
        "strided 1×1 convolutions' weight gradients: matrix products on the sampled input"
            + " (routed around oneDNN's jit_1x1, which writes past its workspace for fewer input"
            + " channels than a register block: oneDNN issue 6035)");
  }

  @Override
  public String name() {
    return TfProvider.NAME;
  }

  @Override
  public int threads() {
    return threads;
  }

  /** Number of compiled kernel graphs (one per signature seen). */
  int compiledKernels() {
    return kernels.size();
  }

  /** Closes every compiled kernel (its graph and session). */
  @Override
  public void close() {
    kernels.close();
  }

  // ---- plumbing -------------------------------------------------------------------------------

  /** {@code t}'s TensorFlow tensor ({@link AbstractBackend} has checked that it is this one's). */
  static TType tf(Tensor t) {
    return ((TfTensor) t).tensor();
  }

  /** An anode tensor over {@code t} (NCHW); closing it frees {@code t} only when {@code owned}. */
  Tensor wrap(TType t, boolean owned) {
    return wrap(t, owned, false);
  }

  /**
   * An anode tensor over {@code t}, which holds an NCHW image as NHWC when {@code channelsLast};
   * closing it frees {@code t} only when {@code owned}.
   */
  Tensor wrap(TType t, boolean owned, boolean channelsLast) {
    DType dtype;
    if (t instanceof TFloat32) {
      dtype = DType.FLOAT32;
    } else if (t instanceof TFloat64) {
      dtype = DType.FLOAT64;
    } else {
      if (owned) {
        t.close();
      }
      throw new IllegalArgumentException(
          "tensorflow: anode tensors are TFloat32 or TFloat64, got " + t.dataType());
    }
    long[] dims = t.shape().asArray();
    int[] d = new int[dims.length];
    for (int i = 0; i < d.length; i++) {
      d[i] = Math.toIntExact(dims[channelsLast ? TfConvolutionGraphs.NHWC_TO_NCHW[i] : i]);
    }
    return new TfTensor(this, t, Shape.of(d), dtype, owned, channelsLast);
  }

  /** A new NCHW copy of a channels-last tensor. */
  TfTensor nchwCopy(TfTensor t) {
    return (TfTensor) kernels.run("copy", "", List.of(t), (tf, in) -> tf.identity(in.get(0)));
  }

  static boolean channelsLast(Tensor t) {
    return ((TfTensor) t).channelsLast();
  }

  /**
   * An elementwise kernel, channels-last when an operand is ({@link TfKernelCache#elementwise}).
   */
  private Tensor elementwise(
      String op, String attrs, Shape out, List<Object> operands, TfKernel.Builder b) {
    return kernels.elementwise(op, attrs, out, operands, b);
  }

  static Operand transpose(Ops tf, Operand x, int[] perm) {
    return tf.linalg.transpose(x, tf.constant(perm));
  }

  static List<Long> longs(long... v) {
    List<Long> out = new ArrayList<>(v.length);
    for (long x : v) {
      out.add(x);
    }
    return out;
  }

  // ---- creation -------------------------------------------------------------------------------

  @Override
  protected Tensor doFromArray(float[] data, Shape shape) {
    return wrap(
        TFloat32.tensorOf(TfKernelCache.tfShape(shape), DataBuffers.of(data, true, false)), true);
  }

  @Override
  protected Tensor doFromArray(double[] data, Shape shape) {
    return wrap(
        TFloat64.tensorOf(TfKernelCache.tfShape(shape), DataBuffers.of(data, true, false)), true);
  }

  @Override
  protected Tensor doFull(Shape shape, double value, DType dtype) {
    int n = (int) shape.numel();
    if (dtype == DType.FLOAT32) {
      float[] f = new float[n];
      Arrays.fill(f, (float) value);
      return fromArray(f, shape);
    }
    double[] d = new double[n];
    Arrays.fill(d, value);
    return fromArray(d, shape);
  }

  @Override
  protected Tensor doCast(Tensor x, DType dtype) {
    Class<? extends TType> to = TfKernelCache.type(dtype);
    if (dtype == x.dtype()) {
      return elementwise("copy", "", x.shape(), List.of(x), (tf, in) -> tf.identity(in.get(0)));
    }
    return elementwise(
        "cast", dtype.name(), x.shape(), List.of(x), (tf, in) -> tf.dtypes.cast(in.get(0), to));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  protected Tensor doAdd(Tensor a, Tensor b, Shape out) {
    return elementwise(
        "add", "", out, List.of(a, b), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doSub(Tensor a, Tensor b, Shape out) {
    return elementwise(
        "sub", "", out, List.of(a, b), (tf, in) -> tf.math.sub(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doMul(Tensor a, Tensor b, Shape out) {
    return elementwise(
        "mul", "", out, List.of(a, b), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doDiv(Tensor a, Tensor b, Shape out) {
    return elementwise(
        "div", "", out, List.of(a, b), (tf, in) -> tf.math.div(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doAddScalar(Tensor x, double s) {
    return elementwise(
        "addScalar", "", x.shape(), List.of(x, s), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doMulScalar(Tensor x, double s) {
    return elementwise(
        "mulScalar", "", x.shape(), List.of(x, s), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doPowScalar(Tensor x, double p) {
    return elementwise(
        "powScalar", "", x.shape(), List.of(x, p), (tf, in) -> tf.math.pow(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doNeg(Tensor x) {
    return elementwise("neg", "", x.shape(), List.of(x), (tf, in) -> tf.math.neg(in.get(0)));
  }

  @Override
  protected Tensor doExp(Tensor x) {
    return elementwise("exp", "", x.shape(), List.of(x), (tf, in) -> tf.math.exp(in.get(0)));
  }

  @Override
  protected Tensor doLog(Tensor x) {
    return elementwise("log", "", x.shape(), List.of(x), (tf, in) -> tf.math.log(in.get(0)));
  }

  @Override
  protected Tensor doSqrt(Tensor x) {
    return elementwise("sqrt", "", x.shape(), List.of(x), (tf, in) -> tf.math.sqrt(in.get(0)));
  }

  @Override
  protected Tensor doSquare(Tensor x) {
    return elementwise("square", "", x.shape(), List.of(x), (tf, in) -> tf.math.square(in.get(0)));
  }

  @Override
  protected Tensor doRelu(Tensor x) {
    return elementwise("relu", "", x.shape(), List.of(x), (tf, in) -> tf.nn.relu(in.get(0)));
  }

  @Override
  protected Tensor doTanh(Tensor x) {
    return elementwise("tanh", "", x.shape(), List.of(x), (tf, in) -> tf.math.tanh(in.get(0)));
  }

  @Override
  protected Tensor doReluBackward(Tensor y, Tensor g) {
    return fused.reluBackward(y, g);
  }

  @Override
  protected Tensor doAddScaled(Tensor base, double[] coefficients, List<Tensor> terms) {
    return fused.addScaled(base, coefficients, terms);
  }

  @Override
  protected Tensor doGreaterThan(Tensor a, Tensor b, Shape out) {
    Class<? extends TType> t = TfKernelCache.type(a.dtype());
    return elementwise(
        "greaterThan",
        "",
        out,
        List.of(a, b),
        (tf, in) -> tf.dtypes.cast(tf.math.greater(in.get(0), in.get(1)), t));
  }

  @Override
  protected Tensor doWhere(Tensor mask, Tensor a, Tensor b, Shape out) {
    long[] dims = out.dimsAsLong();
    return kernels.run(
        "where",
        "",
        List.of(mask, a, b, 0.0),
        (tf, in) -> {
          Operand shape = tf.constant(dims);
          Operand<TBool> cond =
              tf.math.notEqual(tf.broadcastTo(in.get(0), shape), (Operand) in.get(3));
          return tf.select(
              cond, tf.broadcastTo(in.get(1), shape), tf.broadcastTo(in.get(2), shape));
        });
  }

  @Override
  protected Tensor doBroadcastTo(Tensor x, Shape shape) {
    long[] dims = shape.dimsAsLong();
    return kernels.run(
        "broadcastTo",
        shape.toString(),
        List.of(x),
        (tf, in) -> tf.broadcastTo(in.get(0), tf.constant(dims)));
  }

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  protected Tensor doSum(Tensor x, boolean keepDims, int[] ax) {
    return reductions.sum(x, keepDims, ax);
  }

  @Override
  protected Tensor doMean(Tensor x, boolean keepDims, int[] ax) {
    return reductions.mean(x, keepDims, ax);
  }

  @Override
  protected Tensor doMax(Tensor x, boolean keepDims, int[] ax) {
    return reductions.max(x, keepDims, ax);
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  protected Tensor doReshape(Tensor x, Shape shape) {
    long[] dims = shape.dimsAsLong();
    return kernels.run(
        "reshape",
        shape.toString(),
        List.of(x),
        (tf, in) -> tf.reshape(in.get(0), tf.constant(dims)));
  }

  @Override
  protected Tensor doPermute(Tensor x, int[] perm) {
    return kernels.run(
        "permute", Arrays.toString(perm), List.of(x), (tf, in) -> transpose(tf, in.get(0), perm));
  }

  @Override
  protected Tensor doConcat(List<Tensor> parts, int ax, Shape out) {
    if (parts.size() == 1) {
      return copy(parts.get(0));
    }
    return kernels.run(
        "concat",
        Integer.toString(ax),
        new ArrayList<>(parts),
        (tf, in) -> tf.concat((List) in, tf.constant(ax)));
  }

  @Override
  protected Tensor doSlice(Tensor x, int ax, int start, int end, Shape out) {
    int[] begin = new int[x.shape().rank()];
    int[] size = x.shape().dims();
    begin[ax] = start;
    size[ax] = end - start;
    return kernels.run(
        "slice",
        ax + ":" + start + ":" + end,
        List.of(x),
        (tf, in) -> tf.slice(in.get(0), tf.constant(begin), tf.constant(size)));
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  protected Tensor doMatmul(Tensor a, Tensor b, Shape out) {
    return kernels.run(
        "matmul", "", List.of(a, b), (tf, in) -> tf.linalg.matMul(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doConv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    return convolutions.conv2d(x, w, bias, spec);
  }

  @Override
  protected Tensor doConv2dRelu(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    return convolutions.conv2dRelu(x, w, bias, spec);
  }

  @Override
  protected Conv2dGradients doConv2dBackward(Conv2dBackwardArgs args) {
    return convolutions.backward(args);
  }

  @Override
  protected BatchNormResult doBatchNorm(Tensor x, Tensor gamma, Tensor beta, double eps) {
    return fused.batchNorm(x, gamma, beta, eps);
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
    return fused.batchNormBackward(x, gamma, mean, variance, eps, g, input, wantGamma, wantBeta);
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  @Override
  protected Tensor doAvgPool2d(Tensor x, Pool2dSpec spec, Shape out) {
    return pooling.avgPool2d(x, spec);
  }

  @Override
  protected Tensor doAvgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    return pooling.avgPool2dBackward(gradOut, inputShape, spec);
  }

  @Override
  protected Tensor doGlobalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    return pooling.globalAvgPoolBackward(gradOut, inputShape);
  }

  @Override
  protected Tensor doLogSoftmax(Tensor x, int ax) {
    int rank = x.shape().rank();
    int[] perm = new int[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[ax] = rank - 1;
    perm[rank - 1] = ax;
    boolean last = ax == rank - 1;
    return kernels.run(
        "logSoftmax",
        Integer.toString(ax),
        List.of(x),
        (tf, in) -> {
          if (last) {
            return tf.nn.logSoftmax(in.get(0));
          }
          return transpose(tf, tf.nn.logSoftmax(transpose(tf, in.get(0), perm)), perm);
        });
  }
}
