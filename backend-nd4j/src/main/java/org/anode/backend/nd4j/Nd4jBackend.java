package org.anode.backend.nd4j;

import java.util.List;
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Checks;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Pool2dSpec;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.DivOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.SubOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * The anode kernels on ND4J 1.0.0-M2.1 (CPU). Convolutions and their gradients run in libnd4j's
 * {@code conv2d} / {@code conv2d_bp} (oneDNN where the {@code onednn-avx2} build is on the
 * classpath); channel groups are split into per-group native calls since libnd4j's {@code conv2d}
 * has no groups argument.
 *
 * <p>Every result is copied into a buffer it owns, because closing an ND4J view would free the
 * buffer of the array it views.
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

  // ---- conversions ----------------------------------------------------------------------------

  private static DataType nd(DType dtype) {
    return dtype == DType.FLOAT32 ? DataType.FLOAT : DataType.DOUBLE;
  }

  private INDArray arr(String op, Tensor t) {
    Checks.onBackend(op, this, t);
    return ((Nd4jTensor) t).array();
  }

  /** Wraps an array that this backend just created and that nothing else references. */
  private Tensor wrap(INDArray a) {
    DType dtype =
        switch (a.dataType()) {
          case FLOAT -> DType.FLOAT32;
          case DOUBLE -> DType.FLOAT64;
          default -> throw new IllegalStateException("nd4j: unexpected result type " + a.dataType());
        };
    INDArray owned = a;
    if (a.isView() || a.ordering() != 'c') {
      owned = copyOf(a);
    }
    return new Nd4jTensor(this, owned, Shape.of(toInt(owned.shape())), dtype);
  }

  /** A C-ordered copy that owns its buffer. */
  private static INDArray copyOf(INDArray view) {
    INDArray out = Nd4j.createUninitialized(view.dataType(), view.shape(), 'c');
    out.assign(view);
    return out;
  }

  private static int[] toInt(long[] dims) {
    int[] out = new int[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = Math.toIntExact(dims[i]);
    }
    return out;
  }

  private static INDArray empty(DataType type, Shape shape) {
    return Nd4j.createUninitialized(type, shape.dimsAsLong(), 'c');
  }

  // ---- creation -------------------------------------------------------------------------------

  @Override
  public Tensor fromArray(float[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    INDArray a = empty(DataType.FLOAT, shape);
    if (data.length > 0) {
      a.data().setData(data);
    }
    return wrap(a);
  }

  @Override
  public Tensor fromArray(double[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    INDArray a = empty(DataType.DOUBLE, shape);
    if (data.length > 0) {
      a.data().setData(data);
    }
    return wrap(a);
  }

  @Override
  public Tensor full(Shape shape, double value, DType dtype) {
    INDArray a = empty(nd(dtype), shape);
    a.assign(value);
    return wrap(a);
  }

  @Override
  public Tensor cast(Tensor x, DType dtype) {
    INDArray a = arr("cast", x);
    INDArray out = empty(nd(dtype), x.shape());
    out.assign(a);
    return wrap(out);
  }

  // ---- elementwise ----------------------------------------------------------------------------

  private interface PairOp {
    void exec(INDArray a, INDArray b, INDArray out);
  }

  private Tensor binary(String op, Tensor a, Tensor b, PairOp f) {
    INDArray x = arr(op, a);
    INDArray y = arr(op, b);
    Shape out = Checks.broadcast(op, a, b);
    INDArray z = empty(x.dataType(), out);
    f.exec(x, y, z);
    return wrap(z);
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

  @Override
  public Tensor addScalar(Tensor x, double s) {
    return wrap(arr("addScalar", x).add(s));
  }

  @Override
  public Tensor mulScalar(Tensor x, double s) {
    return wrap(arr("mulScalar", x).mul(s));
  }

  @Override
  public Tensor powScalar(Tensor x, double p) {
    return wrap(Transforms.pow(arr("powScalar", x), p, true));
  }

  @Override
  public Tensor neg(Tensor x) {
    return wrap(arr("neg", x).neg());
  }

  @Override
  public Tensor exp(Tensor x) {
    return wrap(Transforms.exp(arr("exp", x), true));
  }

  @Override
  public Tensor log(Tensor x) {
    return wrap(Transforms.log(arr("log", x), true));
  }

  @Override
  public Tensor sqrt(Tensor x) {
    return wrap(Transforms.sqrt(arr("sqrt", x), true));
  }

  @Override
  public Tensor square(Tensor x) {
    INDArray a = arr("square", x);
    return wrap(a.mul(a));
  }

  @Override
  public Tensor relu(Tensor x) {
    return wrap(Transforms.relu(arr("relu", x), true));
  }

  @Override
  public Tensor tanh(Tensor x) {
    return wrap(Transforms.tanh(arr("tanh", x), true));
  }

  /** {@code a} expanded to {@code shape}; the same array when it already has that shape. */
  private static INDArray expand(INDArray a, Shape shape) {
    long[] dims = shape.dimsAsLong();
    if (java.util.Arrays.equals(a.shape(), dims)) {
      return a;
    }
    if (a.rank() == 0) {
      INDArray out = Nd4j.createUninitialized(a.dataType(), dims, 'c');
      out.assign(a.getDouble(0));
      return out;
    }
    return a.broadcast(dims);
  }

  private static void closeTemp(INDArray temp, INDArray original) {
    if (temp != original) {
      temp.close();
    }
  }

  @Override
  public Tensor greaterThan(Tensor a, Tensor b) {
    INDArray x = arr("greaterThan", a);
    INDArray y = arr("greaterThan", b);
    Shape out = Checks.broadcast("greaterThan", a, b);
    INDArray xe = expand(x, out);
    INDArray ye = expand(y, out);
    INDArray mask = xe.gt(ye);
    INDArray result = mask.castTo(x.dataType());
    mask.close();
    closeTemp(xe, x);
    closeTemp(ye, y);
    return wrap(result);
  }

  @Override
  public Tensor where(Tensor mask, Tensor a, Tensor b) {
    INDArray m = arr("where", mask);
    INDArray x = arr("where", a);
    INDArray y = arr("where", b);
    Checks.sameDType("where", mask, a);
    Shape ab = Checks.broadcast("where", a, b);
    Shape out = Checks.broadcast("where", mask.shape(), ab);
    INDArray me = expand(m, out);
    INDArray cond = me.neq(0.0);
    INDArray xe = expand(x, out);
    INDArray ye = expand(y, out);
    INDArray z = empty(x.dataType(), out);
    Nd4j.exec(
        DynamicCustomOp.builder("select").addInputs(cond, xe, ye).addOutputs(z).build());
    cond.close();
    closeTemp(me, m);
    closeTemp(xe, x);
    closeTemp(ye, y);
    return wrap(z);
  }

  @Override
  public Tensor broadcastTo(Tensor x, Shape shape) {
    INDArray a = arr("broadcastTo", x);
    Checks.broadcastableTo("broadcastTo", x.shape(), shape);
    INDArray e = expand(a, shape);
    return wrap(e == a ? copyOf(a) : e);
  }

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  public Tensor sum(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("sum", x.shape(), axes);
    return wrap(reduceShape(arr("sum", x).sum(keepDims, ax), x.shape(), ax, keepDims));
  }

  @Override
  public Tensor mean(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("mean", x.shape(), axes);
    return wrap(reduceShape(arr("mean", x).mean(keepDims, ax), x.shape(), ax, keepDims));
  }

  @Override
  public Tensor max(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("max", x.shape(), axes);
    return wrap(reduceShape(arr("max", x).max(keepDims, ax), x.shape(), ax, keepDims));
  }

  /** ND4J sometimes returns [1] where a reduction to rank 0 is meant: fix up the shape. */
  private static INDArray reduceShape(INDArray r, Shape in, int[] axes, boolean keepDims) {
    Shape expected = Checks.reducedShape(in, axes, keepDims);
    if (java.util.Arrays.equals(r.shape(), expected.dimsAsLong())) {
      return r;
    }
    INDArray out = empty(r.dataType(), expected);
    out.assign(r.reshape(expected.dimsAsLong()));
    r.close();
    return out;
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  public Tensor reshape(Tensor x, Shape shape) {
    INDArray a = arr("reshape", x);
    Checks.reshape(x, shape);
    INDArray out = empty(a.dataType(), shape);
    if (shape.numel() > 0) {
      out.assign(a.reshape('c', shape.dimsAsLong()));
    }
    return wrap(out);
  }

  @Override
  public Tensor permute(Tensor x, int... axes) {
    INDArray a = arr("permute", x);
    Checks.permutation(x, axes);
    return wrap(copyOf(a.permute(axes)));
  }

  @Override
  public Tensor concat(List<Tensor> parts, int axis) {
    if (parts.isEmpty()) {
      throw new IllegalArgumentException("concat: no tensors given");
    }
    Tensor first = parts.get(0);
    int ax = first.shape().normalizeAxis(axis);
    INDArray[] arrays = new INDArray[parts.size()];
    for (int i = 0; i < arrays.length; i++) {
      Tensor p = parts.get(i);
      arrays[i] = arr("concat", p);
      Checks.sameDType("concat", first, p);
      boolean ok = p.shape().rank() == first.shape().rank();
      for (int d = 0; ok && d < first.shape().rank(); d++) {
        ok = d == ax || p.shape().dim(d) == first.shape().dim(d);
      }
      if (!ok) {
        throw new IllegalArgumentException(
            "concat: along axis "
                + axis
                + ", part "
                + i
                + " "
                + Checks.describe(p)
                + " does not match part 0 "
                + Checks.describe(first));
      }
    }
    return wrap(arrays.length == 1 ? copyOf(arrays[0]) : Nd4j.concat(ax, arrays));
  }

  @Override
  public Tensor slice(Tensor x, int axis, int start, int end) {
    INDArray a = arr("slice", x);
    int ax = x.shape().normalizeAxis(axis);
    if (start < 0 || end > x.shape().dim(ax) || start >= end) {
      throw new IllegalArgumentException(
          "slice: range ["
              + start
              + ", "
              + end
              + ") is empty or outside axis "
              + axis
              + " of "
              + Checks.describe(x));
    }
    INDArrayIndex[] idx = new INDArrayIndex[x.shape().rank()];
    for (int d = 0; d < idx.length; d++) {
      idx[d] = d == ax ? NDArrayIndex.interval(start, end) : NDArrayIndex.all();
    }
    return wrap(copyOf(a.get(idx)));
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  public Tensor matmul(Tensor a, Tensor b) {
    INDArray x = arr("matmul", a);
    INDArray y = arr("matmul", b);
    Shape out = Checks.matmul(a, b);
    INDArray z = empty(x.dataType(), out);
    x.mmul(y, z);
    return wrap(z);
  }

  private static int[] convArgs(Shape w, Conv2dSpec s) {
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
      0, // NCHW
      1 // weights [out, in, kH, kW]
    };
  }

  private void checkConv(String op, Tensor x, Tensor w, Tensor bias) {
    arr(op, x);
    arr(op, w);
    Checks.sameDType(op, x, w);
    if (bias != null) {
      arr(op, bias);
      Checks.sameDType(op, x, bias);
      if (bias.shape().rank() != 1 || bias.shape().dim(0) != w.shape().dim(0)) {
        throw new IllegalArgumentException(
            op
                + ": bias "
                + Checks.describe(bias)
                + " must be ["
                + w.shape().dim(0)
                + "] for weight "
                + Checks.describe(w));
      }
    }
  }

  /** Channel slice {@code [g·size, (g+1)·size)} along axis 1 (or 0), as an owned array. */
  private static INDArray group(INDArray a, int axis, int g, int size) {
    INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
    for (int d = 0; d < idx.length; d++) {
      idx[d] = d == axis ? NDArrayIndex.interval(g * size, (g + 1) * size) : NDArrayIndex.all();
    }
    return copyOf(a.get(idx));
  }

  @Override
  public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    checkConv("conv2d", x, w, bias);
    Shape outShape = spec.outputShape(x.shape(), w.shape());
    INDArray xa = arr("conv2d", x);
    INDArray wa = arr("conv2d", w);
    INDArray ba = bias == null ? null : arr("conv2d", bias);
    int g = spec.groups();
    if (g == 1) {
      return wrap(conv(xa, wa, ba, w.shape(), spec, outShape));
    }
    int cin = x.shape().dim(1) / g;
    int cout = w.shape().dim(0) / g;
    Shape wg = w.shape().with(0, cout);
    INDArray[] outs = new INDArray[g];
    for (int i = 0; i < g; i++) {
      INDArray xi = group(xa, 1, i, cin);
      INDArray wi = group(wa, 0, i, cout);
      INDArray bi = ba == null ? null : group(ba, 0, i, cout);
      outs[i] = conv(xi, wi, bi, wg, spec, outShape.with(1, cout));
      xi.close();
      wi.close();
      if (bi != null) {
        bi.close();
      }
    }
    INDArray z = Nd4j.concat(1, outs);
    for (INDArray o : outs) {
      o.close();
    }
    return wrap(z);
  }

  private static INDArray conv(
      INDArray x, INDArray w, INDArray b, Shape wShape, Conv2dSpec spec, Shape outShape) {
    INDArray z = empty(x.dataType(), outShape);
    DynamicCustomOp.DynamicCustomOpsBuilder op =
        DynamicCustomOp.builder("conv2d").addIntegerArguments(convArgs(wShape, spec));
    op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
    execConv(op.addOutputs(z).build(), spec);
    return z;
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
    Tensor x = zeros(inputShape, w.dtype());
    try {
      return conv2dBackward(x, w, gradOut, spec, true, false).input();
    } finally {
      x.close();
    }
  }

  @Override
  public Tensor conv2dBackwardWeight(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    Tensor w = zeros(weightShape, x.dtype());
    try {
      return conv2dBackward(x, w, gradOut, spec, false, true).weight();
    } finally {
      w.close();
    }
  }

  /** libnd4j's {@code conv2d_bp} yields both gradients from one call. */
  @Override
  public Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    checkConv("conv2dBackward", x, w, null);
    arr("conv2dBackward", gradOut);
    Checks.sameDType("conv2dBackward", x, gradOut);
    Shape outShape = spec.outputShape(x.shape(), w.shape());
    if (!gradOut.shape().equals(outShape)) {
      throw new IllegalArgumentException(
          "conv2dBackward: gradient "
              + Checks.describe(gradOut)
              + " does not match the output shape "
              + outShape
              + " of input "
              + x.shape()
              + " and weight "
              + w.shape());
    }
    INDArray xa = arr("conv2dBackward", x);
    INDArray wa = arr("conv2dBackward", w);
    INDArray ga = arr("conv2dBackward", gradOut);
    int g = spec.groups();
    INDArray gx;
    INDArray gw;
    if (g == 1) {
      INDArray[] r = convBp(xa, wa, ga, w.shape(), spec);
      gx = r[0];
      gw = r[1];
    } else {
      int cin = x.shape().dim(1) / g;
      int cout = w.shape().dim(0) / g;
      Shape wg = w.shape().with(0, cout);
      INDArray[] gxs = new INDArray[g];
      INDArray[] gws = new INDArray[g];
      for (int i = 0; i < g; i++) {
        INDArray xi = group(xa, 1, i, cin);
        INDArray wi = group(wa, 0, i, cout);
        INDArray gi = group(ga, 1, i, cout);
        INDArray[] r = convBp(xi, wi, gi, wg, spec);
        gxs[i] = r[0];
        gws[i] = r[1];
        xi.close();
        wi.close();
        gi.close();
      }
      gx = Nd4j.concat(1, gxs);
      gw = Nd4j.concat(0, gws);
      for (int i = 0; i < g; i++) {
        gxs[i].close();
        gws[i].close();
      }
    }
    if (!input) {
      gx.close();
    }
    if (!weight) {
      gw.close();
    }
    return new Conv2dGradients(input ? wrap(gx) : null, weight ? wrap(gw) : null);
  }

  private static INDArray[] convBp(
      INDArray x, INDArray w, INDArray gradOut, Shape wShape, Conv2dSpec spec) {
    INDArray gx = Nd4j.createUninitialized(x.dataType(), x.shape(), 'c');
    INDArray gw = Nd4j.createUninitialized(w.dataType(), w.shape(), 'c');
    execConv(
        DynamicCustomOp.builder("conv2d_bp")
            .addInputs(x, w, gradOut)
            .addOutputs(gx, gw)
            .addIntegerArguments(convArgs(wShape, spec))
            .build(),
        spec);
    return new INDArray[] {gx, gw};
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
    INDArray z = empty(a.dataType(), out);
    Nd4j.exec(
        DynamicCustomOp.builder("avgpool2d")
            .addInputs(a)
            .addOutputs(z)
            .addIntegerArguments(poolArgs(spec))
            .build());
    return wrap(z);
  }

  @Override
  public Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    INDArray g = arr("avgPool2dBackward", gradOut);
    Shape out = spec.outputShape(inputShape);
    if (!gradOut.shape().equals(out)) {
      throw new IllegalArgumentException(
          "avgPool2dBackward: gradient "
              + Checks.describe(gradOut)
              + " does not match output "
              + out
              + " of input "
              + inputShape);
    }
    INDArray x = Nd4j.zeros(g.dataType(), inputShape.dimsAsLong());
    INDArray gx = empty(g.dataType(), inputShape);
    Nd4j.exec(
        DynamicCustomOp.builder("avgpool2d_bp")
            .addInputs(x, g)
            .addOutputs(gx)
            .addIntegerArguments(poolArgs(spec))
            .build());
    x.close();
    return wrap(gx);
  }

  @Override
  public Tensor globalAvgPool(Tensor x) {
    if (x.shape().rank() != 4) {
      throw new IllegalArgumentException(
          "globalAvgPool: input " + Checks.describe(x) + " must be rank 4 (NCHW)");
    }
    return mean(x, true, 2, 3);
  }

  @Override
  public Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    INDArray g = arr("globalAvgPoolBackward", gradOut);
    Shape expected = Shape.of(inputShape.dim(0), inputShape.dim(1), 1, 1);
    if (!gradOut.shape().equals(expected)) {
      throw new IllegalArgumentException(
          "globalAvgPoolBackward: gradient "
              + Checks.describe(gradOut)
              + " must be "
              + expected
              + " for input "
              + inputShape);
    }
    INDArray e = g.broadcast(inputShape.dimsAsLong());
    INDArray out = e.divi(inputShape.dim(2) * (double) inputShape.dim(3));
    return wrap(out);
  }

  @Override
  public Tensor logSoftmax(Tensor x, int axis) {
    INDArray a = arr("logSoftmax", x);
    int ax = x.shape().normalizeAxis(axis);
    INDArray z = empty(a.dataType(), x.shape());
    Nd4j.exec(
        DynamicCustomOp.builder("log_softmax")
            .addInputs(a)
            .addOutputs(z)
            .addIntegerArguments(ax)
            .build());
    return wrap(z);
  }
}
