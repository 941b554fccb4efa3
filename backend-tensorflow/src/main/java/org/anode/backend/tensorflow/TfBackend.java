package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Checks;
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
import org.tensorflow.op.nn.Conv2d;
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
final class TfBackend implements Backend {
  private final int threads;
  private final ConfigProto config;
  private final Map<KernelKey, TfKernel> kernels = new ConcurrentHashMap<>();

  TfBackend(BackendOptions options) {
    this.threads =
        options.threads() > 0 ? options.threads() : Runtime.getRuntime().availableProcessors();
    this.config =
        ConfigProto.newBuilder()
            .setIntraOpParallelismThreads(threads)
            .setInterOpParallelismThreads(1)
            .build();
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
    kernels.values().forEach(TfKernel::close);
    kernels.clear();
  }

  // ---- plumbing -------------------------------------------------------------------------------

  TType tf(String op, Tensor t) {
    Checks.onBackend(op, this, t);
    return ((TfTensor) t).tensor();
  }

  private static Class<? extends TType> type(DType d) {
    return d == DType.FLOAT32 ? TFloat32.class : TFloat64.class;
  }

  private static org.tensorflow.ndarray.Shape tfShape(Shape s) {
    return org.tensorflow.ndarray.Shape.of(s.dimsAsLong());
  }

  private Tensor wrap(TType t) {
    return wrap(t, true);
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

  /**
   * Runs the kernel {@code op} with {@code attrs} on {@code args}: anode tensors, or scalars
   * (Double) fed as 0-d tensors in {@code scalarType}, so that a new value needs no new graph.
   */
  private Tensor run(
      String op, String attrs, DType scalarType, List<Object> args, TfKernel.Builder b) {
    return runAll(
            op,
            attrs,
            scalarType,
            args,
            (TfKernel.MultiBuilder) (tf, in) -> List.of(b.build(tf, in)))
        .get(0);
  }

  /** As {@link #run} for a kernel with several outputs. */
  private List<Tensor> runAll(
      String op, String attrs, DType scalarType, List<Object> args, TfKernel.MultiBuilder b) {
    List<TfKernel.Input> signature = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> feeds = new ArrayList<>(args.size());
    List<org.tensorflow.Tensor> temporary = new ArrayList<>();
    try {
      for (Object a : args) {
        if (a instanceof Tensor t) {
          TType v = tf(op, t);
          feeds.add(v);
          signature.add(new TfKernel.Input(type(t.dtype()), tfShape(t.shape())));
        } else {
          double s = (Double) a;
          org.tensorflow.Tensor v =
              scalarType == DType.FLOAT32 ? TFloat32.scalarOf((float) s) : TFloat64.scalarOf(s);
          temporary.add(v);
          feeds.add(v);
          signature.add(
              new TfKernel.Input(type(scalarType), org.tensorflow.ndarray.Shape.scalar()));
        }
      }
      TfKernel kernel =
          kernels.computeIfAbsent(
              KernelKey.of(op, attrs, signature, b), k -> new TfKernel(signature, b, config));
      List<Tensor> out = new ArrayList<>();
      for (TType t : kernel.run(feeds)) {
        out.add(wrap(t));
      }
      return out;
    } finally {
      temporary.forEach(org.tensorflow.Tensor::close);
    }
  }

  private Tensor run(String op, String attrs, List<Object> args, TfKernel.Builder b) {
    DType scalarType = DType.FLOAT64;
    for (Object a : args) {
      if (a instanceof Tensor t) {
        scalarType = t.dtype();
        break;
      }
    }
    return run(op, attrs, scalarType, args, b);
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
  public Tensor fromArray(float[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return wrap(TFloat32.tensorOf(tfShape(shape), DataBuffers.of(data, true, false)));
  }

  @Override
  public Tensor fromArray(double[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return wrap(TFloat64.tensorOf(tfShape(shape), DataBuffers.of(data, true, false)));
  }

  @Override
  public Tensor full(Shape shape, double value, DType dtype) {
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
  public Tensor cast(Tensor x, DType dtype) {
    Class<? extends TType> to = type(dtype);
    if (dtype == x.dtype()) {
      return run("copy", "", List.of(x), (tf, in) -> tf.identity(in.get(0)));
    }
    return run("cast", dtype.name(), List.of(x), (tf, in) -> tf.dtypes.cast(in.get(0), to));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  public Tensor add(Tensor a, Tensor b) {
    Checks.broadcast("add", a, b);
    return run("add", "", List.of(a, b), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  public Tensor sub(Tensor a, Tensor b) {
    Checks.broadcast("sub", a, b);
    return run("sub", "", List.of(a, b), (tf, in) -> tf.math.sub(in.get(0), in.get(1)));
  }

  @Override
  public Tensor mul(Tensor a, Tensor b) {
    Checks.broadcast("mul", a, b);
    return run("mul", "", List.of(a, b), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  public Tensor div(Tensor a, Tensor b) {
    Checks.broadcast("div", a, b);
    return run("div", "", List.of(a, b), (tf, in) -> tf.math.div(in.get(0), in.get(1)));
  }

  @Override
  public Tensor addScalar(Tensor x, double s) {
    return run("addScalar", "", List.of(x, s), (tf, in) -> tf.math.add(in.get(0), in.get(1)));
  }

  @Override
  public Tensor mulScalar(Tensor x, double s) {
    return run("mulScalar", "", List.of(x, s), (tf, in) -> tf.math.mul(in.get(0), in.get(1)));
  }

  @Override
  public Tensor powScalar(Tensor x, double p) {
    return run("powScalar", "", List.of(x, p), (tf, in) -> tf.math.pow(in.get(0), in.get(1)));
  }

  @Override
  public Tensor neg(Tensor x) {
    return run("neg", "", List.of(x), (tf, in) -> tf.math.neg(in.get(0)));
  }

  @Override
  public Tensor exp(Tensor x) {
    return run("exp", "", List.of(x), (tf, in) -> tf.math.exp(in.get(0)));
  }

  @Override
  public Tensor log(Tensor x) {
    return run("log", "", List.of(x), (tf, in) -> tf.math.log(in.get(0)));
  }

  @Override
  public Tensor sqrt(Tensor x) {
    return run("sqrt", "", List.of(x), (tf, in) -> tf.math.sqrt(in.get(0)));
  }

  @Override
  public Tensor square(Tensor x) {
    return run("square", "", List.of(x), (tf, in) -> tf.math.square(in.get(0)));
  }

  @Override
  public Tensor relu(Tensor x) {
    return run("relu", "", List.of(x), (tf, in) -> tf.nn.relu(in.get(0)));
  }

  @Override
  public Tensor tanh(Tensor x) {
    return run("tanh", "", List.of(x), (tf, in) -> tf.math.tanh(in.get(0)));
  }

  @Override
  public Tensor greaterThan(Tensor a, Tensor b) {
    Checks.broadcast("greaterThan", a, b);
    Class<? extends TType> t = type(a.dtype());
    return run(
        "greaterThan",
        "",
        List.of(a, b),
        (tf, in) -> tf.dtypes.cast(tf.math.greater(in.get(0), in.get(1)), t));
  }

  @Override
  public Tensor where(Tensor mask, Tensor a, Tensor b) {
    Checks.sameDType("where", mask, a);
    Shape out = Checks.broadcast("where", mask.shape(), Checks.broadcast("where", a, b));
    long[] dims = out.dimsAsLong();
    return run(
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
  public Tensor broadcastTo(Tensor x, Shape shape) {
    Checks.broadcastableTo("broadcastTo", x.shape(), shape);
    long[] dims = shape.dimsAsLong();
    return run(
        "broadcastTo",
        shape.toString(),
        List.of(x),
        (tf, in) -> tf.broadcastTo(in.get(0), tf.constant(dims)));
  }

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  public Tensor sum(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("sum", x.shape(), axes);
    return run(
        "sum",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.reduceSum(in.get(0), tf.constant(ax), ReduceSum.keepDims(keepDims)));
  }

  @Override
  public Tensor mean(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("mean", x.shape(), axes);
    return run(
        "mean",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.math.mean(in.get(0), tf.constant(ax), Mean.keepDims(keepDims)));
  }

  @Override
  public Tensor max(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("max", x.shape(), axes);
    return run(
        "max",
        Arrays.toString(ax) + keepDims,
        List.of(x),
        (tf, in) -> tf.reduceMax(in.get(0), tf.constant(ax), ReduceMax.keepDims(keepDims)));
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  public Tensor reshape(Tensor x, Shape shape) {
    Checks.reshape(x, shape);
    long[] dims = shape.dimsAsLong();
    return run(
        "reshape",
        shape.toString(),
        List.of(x),
        (tf, in) -> tf.reshape(in.get(0), tf.constant(dims)));
  }

  @Override
  public Tensor permute(Tensor x, int... axes) {
    Checks.permutation(x, axes);
    int[] perm = axes.clone();
    return run(
        "permute", Arrays.toString(perm), List.of(x), (tf, in) -> transpose(tf, in.get(0), perm));
  }

  @Override
  public Tensor concat(List<Tensor> parts, int axis) {
    int ax = Checks.concat(parts, axis).normalizeAxis(axis);
    if (parts.size() == 1) {
      return copy(parts.get(0));
    }
    return run(
        "concat",
        Integer.toString(ax),
        new ArrayList<>(parts),
        (tf, in) -> tf.concat((List) in, tf.constant(ax)));
  }

  @Override
  public Tensor slice(Tensor x, int axis, int start, int end) {
    Checks.slice(x, axis, start, end);
    int ax = x.shape().normalizeAxis(axis);
    int[] begin = new int[x.shape().rank()];
    int[] size = x.shape().dims();
    begin[ax] = start;
    size[ax] = end - start;
    return run(
        "slice",
        ax + ":" + start + ":" + end,
        List.of(x),
        (tf, in) -> tf.slice(in.get(0), tf.constant(begin), tf.constant(size)));
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  public Tensor matmul(Tensor a, Tensor b) {
    Checks.matmul(a, b);
    return run("matmul", "", List.of(a, b), (tf, in) -> tf.linalg.matMul(in.get(0), in.get(1)));
  }

  private void checkConv(String op, Tensor x, Tensor w, Tensor bias) {
    tf(op, x);
    tf(op, w);
    if (bias != null) {
      tf(op, bias);
    }
    Checks.convolution(op, x, w, bias);
  }

  @Override
  public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    checkConv("conv2d", x, w, bias);
    spec.outputShape(x.shape(), w.shape());
    List<Object> args = bias == null ? List.of(x, w, 0.0) : List.of(x, w, 0.0, bias);
    int cout = w.shape().dim(0);
    Shape ws0 = w.shape();
    return run(
        "conv2d",
        spec.toString(),
        args,
        (tf, in) -> {
          int g = spec.groups();
          List<Operand> xs =
              TfConvolutionGraphs.groups(
                  tf, transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC), g);
          Operand wh = transpose(tf, in.get(1), TfConvolutionGraphs.OIHW_TO_HWIO);
          if (TfConvolutionGraphs.dilated(spec)) {
            wh = TfConvolutionGraphs.dilateKernel(tf, wh, ws0, spec, in.get(2));
          }
          List<Operand> ws = TfConvolutionGraphs.groups(tf, wh, g);
          List<Operand> ys = new ArrayList<>();
          for (int i = 0; i < g; i++) {
            ys.add(
                tf.nn.conv2d(
                    xs.get(i),
                    ws.get(i),
                    TfConvolutionGraphs.strides(spec),
                    "EXPLICIT",
                    Conv2d.explicitPaddings(TfConvolutionGraphs.paddings(spec)),
                    Conv2d.dilations(TfConvolutionGraphs.dilations(spec)),
                    Conv2d.dataFormat("NHWC")));
          }
          Operand y =
              transpose(
                  tf, TfConvolutionGraphs.joinGroups(tf, ys), TfConvolutionGraphs.NHWC_TO_NCHW);
          if (in.size() == 4) {
            y = tf.math.add(y, tf.reshape(in.get(3), tf.constant(new int[] {1, cout, 1, 1})));
          }
          return y;
        });
  }

  @Override
  public Tensor conv2dBackwardInput(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    tf("conv2dBackwardInput", gradOut);
    tf("conv2dBackwardInput", w);
    Checks.convolutionGradient("conv2dBackwardInput", inputShape, w, gradOut, spec);
    Shape ws = w.shape();
    return run(
        "conv2dBackwardInput",
        spec + inputShape.toString(),
        List.of(gradOut, w, 0.0),
        (tf, in) ->
            TfConvolutionGraphs.inputGradient(
                tf,
                transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC),
                in.get(1),
                ws,
                inputShape,
                spec,
                in.get(2)));
  }

  @Override
  public Tensor conv2dBackwardWeight(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    tf("conv2dBackwardWeight", gradOut);
    tf("conv2dBackwardWeight", x);
    Checks.sameDType("conv2dBackwardWeight", x, gradOut);
    Checks.gradientShape("conv2dBackwardWeight", gradOut, spec.outputShape(x.shape(), weightShape));
    return run(
        "conv2dBackwardWeight",
        spec + weightShape.toString(),
        List.of(x, gradOut, 0.0),
        (tf, in) ->
            TfConvolutionGraphs.weightGradient(
                tf,
                transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC),
                transpose(tf, in.get(1), TfConvolutionGraphs.NCHW_TO_NHWC),
                weightShape,
                spec,
                in.get(2)));
  }

  /** Both gradients from one graph run, sharing the layout transposes of the upstream gradient. */
  @Override
  public Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    if (!input || !weight) {
      return Backend.super.conv2dBackward(x, w, gradOut, spec, input, weight);
    }
    checkConv("conv2dBackward", x, w, null);
    tf("conv2dBackward", gradOut);
    Checks.convolutionGradient("conv2dBackward", x.shape(), w, gradOut, spec);
    Shape xs = x.shape();
    Shape ws = w.shape();
    List<Tensor> both =
        runAll(
            "conv2dBackward",
            spec.toString(),
            x.dtype(),
            List.of(x, w, gradOut, 0.0),
            (tf, in) -> {
              Operand gh = transpose(tf, in.get(2), TfConvolutionGraphs.NCHW_TO_NHWC);
              return List.of(
                  TfConvolutionGraphs.inputGradient(tf, gh, in.get(1), ws, xs, spec, in.get(3)),
                  TfConvolutionGraphs.weightGradient(
                      tf,
                      transpose(tf, in.get(0), TfConvolutionGraphs.NCHW_TO_NHWC),
                      gh,
                      ws,
                      spec,
                      in.get(3)));
            });
    return new Conv2dGradients(both.get(0), both.get(1));
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  private static List<Long> window(Pool2dSpec s) {
    return longs(1, s.kernelH(), s.kernelW(), 1);
  }

  private static List<Long> steps(Pool2dSpec s) {
    return longs(1, s.strideH(), s.strideW(), 1);
  }

  @Override
  public Tensor avgPool2d(Tensor x, Pool2dSpec spec) {
    spec.outputShape(x.shape());
    int[][] pad = {{0, 0}, {spec.padH(), spec.padH()}, {spec.padW(), spec.padW()}, {0, 0}};
    return run(
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
  public Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    tf("avgPool2dBackward", gradOut);
    Checks.gradientShape("avgPool2dBackward", gradOut, spec.outputShape(inputShape));
    int n = inputShape.dim(0);
    int c = inputShape.dim(1);
    int h = inputShape.dim(2);
    int w = inputShape.dim(3);
    int[] padded = {n, h + 2 * spec.padH(), w + 2 * spec.padW(), c};
    return run(
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
  public Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    Shape expected = Shape.of(inputShape.dim(0), inputShape.dim(1), 1, 1);
    tf("globalAvgPoolBackward", gradOut);
    Checks.gradientShape("globalAvgPoolBackward", gradOut, expected);
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    long[] dims = inputShape.dimsAsLong();
    return run(
        "globalAvgPoolBackward",
        inputShape.toString(),
        List.of(gradOut, scale),
        (tf, in) -> tf.math.mul(tf.broadcastTo(in.get(0), tf.constant(dims)), in.get(1)));
  }

  @Override
  public Tensor logSoftmax(Tensor x, int axis) {
    int ax = x.shape().normalizeAxis(axis);
    int rank = x.shape().rank();
    int[] perm = new int[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[ax] = rank - 1;
    perm[rank - 1] = ax;
    boolean last = ax == rank - 1;
    return run(
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
