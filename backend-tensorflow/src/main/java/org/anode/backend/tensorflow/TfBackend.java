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
import org.tensorflow.op.core.ReduceMax;
import org.tensorflow.op.core.ReduceSum;
import org.tensorflow.op.math.Mean;
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

  TfBackend(BackendOptions options) {
    this.threads =
        options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
    this.config =
        ConfigProto.newBuilder()
            .setIntraOpParallelismThreads(threads)
            .setInterOpParallelismThreads(1)
            .build();
    this.kernels = new TfKernelCache(this, config);
    this.convolutions = new TfConvolutions(kernels);
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

  /** An anode tensor over {@code t}; closing it frees {@code t} only when {@code owned}. */
  Tensor wrap(TType t, boolean owned) {
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
      d[i] = Math.toIntExact(dims[i]);
    }
    return new TfTensor(this, t, Shape.of(d), dtype, owned);
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
      return kernels.run("copy", "", List.of(x), (tf, in) -> tf.identity(in.get(0)));
    }
    return kernels.run("cast", dtype.name(), List.of(x), (tf, in) -> tf.dtypes.cast(in.get(0), to));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  protected Tensor doAdd(Tensor a, Tensor b, Shape out) {
    return kernels.run("add", "", List.of(a, b), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doSub(Tensor a, Tensor b, Shape out) {
    return kernels.run("sub", "", List.of(a, b), (tf, in) -> tf.math.sub(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doMul(Tensor a, Tensor b, Shape out) {
    return kernels.run("mul", "", List.of(a, b), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doDiv(Tensor a, Tensor b, Shape out) {
    return kernels.run("div", "", List.of(a, b), (tf, in) -> tf.math.div(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doAddScalar(Tensor x, double s) {
    return kernels.run(
        "addScalar", "", List.of(x, s), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doMulScalar(Tensor x, double s) {
    return kernels.run(
        "mulScalar", "", List.of(x, s), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doPowScalar(Tensor x, double p) {
    return kernels.run(
        "powScalar", "", List.of(x, p), (tf, in) -> tf.math.pow(in.get(0), in.get(1)));
  }

  @Override
  protected Tensor doNeg(Tensor x) {
    return kernels.run("neg", "", List.of(x), (tf, in) -> tf.math.neg(in.get(0)));
  }

  @Override
  protected Tensor doExp(Tensor x) {
    return kernels.run("exp", "", List.of(x), (tf, in) -> tf.math.exp(in.get(0)));
  }

  @Override
  protected Tensor doLog(Tensor x) {
    return kernels.run("log", "", List.of(x), (tf, in) -> tf.math.log(in.get(0)));
  }

  @Override
  protected Tensor doSqrt(Tensor x) {
    return kernels.run("sqrt", "", List.of(x), (tf, in) -> tf.math.sqrt(in.get(0)));
  }

  @Override
  protected Tensor doSquare(Tensor x) {
    return kernels.run("square", "", List.of(x), (tf, in) -> tf.math.square(in.get(0)));
  }

  @Override
  protected Tensor doRelu(Tensor x) {
    return kernels.run("relu", "", List.of(x), (tf, in) -> tf.nn.relu(in.get(0)));
  }

  @Override
  protected Tensor doTanh(Tensor x) {
    return kernels.run("tanh", "", List.of(x), (tf, in) -> tf.math.tanh(in.get(0)));
  }

  @Override
  protected Tensor doGreaterThan(Tensor a, Tensor b, Shape out) {
    Class<? extends TType> t = TfKernelCache.type(a.dtype());
    return kernels.run(
        "greaterThan",
        "",
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
    return kernels.run(
        "sum",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.reduceSum(in.get(0), tf.constant(ax), ReduceSum.keepDims(keepDims)));
  }

  @Override
  protected Tensor doMean(Tensor x, boolean keepDims, int[] ax) {
    return kernels.run(
        "mean",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.math.mean(in.get(0), tf.constant(ax), Mean.keepDims(keepDims)));
  }

  @Override
  protected Tensor doMax(Tensor x, boolean keepDims, int[] ax) {
    return kernels.run(
        "max",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.reduceMax(in.get(0), tf.constant(ax), ReduceMax.keepDims(keepDims)));
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
  protected Conv2dGradients doConv2dBackward(Conv2dBackwardArgs args) {
    return convolutions.backward(args);
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  private static List<Long> window(Pool2dSpec s) {
    return longs(1, s.kernelH(), s.kernelW(), 1);
  }

  private static List<Long> steps(Pool2dSpec s) {
    return longs(1, s.strideH(), s.strideW(), 1);
  }

  @Override
  protected Tensor doAvgPool2d(Tensor x, Pool2dSpec spec, Shape out) {
    int[][] pad = {{0, 0}, {spec.padH(), spec.padH()}, {spec.padW(), spec.padW()}, {0, 0}};
    return kernels.run(
        "avgPool2d",
        spec.toString(),
        List.of(x, 0.0),
        (tf, in) -> {
          Operand xh = transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC);
          Operand padded = tf.pad(xh, tf.constant(pad), (Operand) in.get(1));
          return transpose(
              tf,
              tf.nn.avgPool(padded, window(spec), steps(spec), "VALID"),
              TfConvolutionGraphs.NHWC_TO_NCHW);
        });
  }

  @Override
  protected Tensor doAvgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    int n = inputShape.dim(0);
    int c = inputShape.dim(1);
    int h = inputShape.dim(2);
    int w = inputShape.dim(3);
    int[] padded = {n, h + 2 * spec.padH(), w + 2 * spec.padW(), c};
    return kernels.run(
        "avgPool2dBackward",
        spec + inputShape.toString(),
        List.of(gradOut),
        (tf, in) -> {
          Operand gh = transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC);
          Operand gp =
              tf.nn.avgPoolGrad(tf.constant(padded), gh, window(spec), steps(spec), "VALID");
          Operand gx =
              tf.slice(
                  gp,
                  tf.constant(new int[] {0, spec.padH(), spec.padW(), 0}),
                  tf.constant(new int[] {n, h, w, c}));
          return transpose(tf, gx, TfConvolutionGraphs.NHWC_TO_NCHW);
        });
  }

  @Override
  protected Tensor doGlobalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    long[] dims = inputShape.dimsAsLong();
    return kernels.run(
        "globalAvgPoolBackward",
        inputShape.toString(),
        List.of(gradOut, scale),
        (tf, in) -> tf.math.mul(tf.broadcastTo(in.get(0), tf.constant(dims)), in.get(1)));
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
