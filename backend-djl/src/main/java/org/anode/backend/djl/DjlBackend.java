package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Activation;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
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

/**
 * The anode kernels on DJL 0.36 with the PyTorch engine (libtorch 2.7.1). Convolution and pooling
 * gradients come from libtorch's own backward kernels: the one op is run on a detached alias of its
 * input with gradients enabled and swept from the upstream gradient (DJL has no NDArray op for
 * these gradients, and its transposed convolution is not implemented for this engine).
 *
 * <p>Every intermediate array is closed as soon as it is used: libtorch frees a tensor when its
 * last handle is closed (views keep their storage alive by reference count).
 */
final class DjlBackend extends AbstractBackend {
  private final NDManager manager;
  private final int threads;
  private final DjlConvolutions convolutions = new DjlConvolutions(this);
  private final DjlFusedKernels fused = new DjlFusedKernels(this);
  private final DjlScalars scalars;

  DjlBackend(BackendOptions options) {
    this.manager = NDManager.newBaseManager("PyTorch");
    this.scalars = new DjlScalars(manager);
    if (options.threads() > 0) {
      JniUtils.setNumThreads(options.threads());
    }
    JniUtils.setGradMode(false);
    this.threads = JniUtils.getNumThreads();
    // Probes libtorch's float32 convolutions now, before any training step.
    Float32Convolutions.mode(manager);
  }

  @Override
  public List<String> kernels() {
    ai.djl.engine.Engine engine = ai.djl.engine.Engine.getEngine("PyTorch");
    return List.of(
        "libtorch "
            + engine.getVersion()
            + " through DJL "
            + ai.djl.engine.Engine.getDjlVersion()
            + ", its oneDNN for float32 convolutions",
        "float32 convolutions: " + Float32Convolutions.describe(manager));
  }

  /** How the convolution of {@code x} by {@code w} runs ({@link Float32Convolutions}). */
  Float32Convolutions.Route convolutionRoute(Tensor x, Tensor w, Conv2dSpec spec) {
    if (x.dtype() != DType.FLOAT32) {
      return Float32Convolutions.Route.NATIVE;
    }
    return Float32Convolutions.route(manager, x.shape().dim(1), w.shape().dim(0), spec.groups());
  }

  Tensor float32(Tensor t) {
    return t == null ? null : cast(t, DType.FLOAT32);
  }

  Tensor float64(Tensor t) {
    return t == null ? null : cast(t, DType.FLOAT64);
  }

  @Override
  public String name() {
    return DjlProvider.NAME;
  }

  @Override
  public int threads() {
    return threads;
  }

  // ---- conversions ----------------------------------------------------------------------------

  /** {@code t}'s libtorch array ({@link AbstractBackend} has checked that it is this one's). */
  static NDArray arr(Tensor t) {
    return ((DjlTensor) t).array();
  }

  static DataType dj(DType d) {
    return d == DType.FLOAT32 ? DataType.FLOAT32 : DataType.FLOAT64;
  }

  static ai.djl.ndarray.types.Shape dj(Shape s) {
    return new ai.djl.ndarray.types.Shape(s.dimsAsLong());
  }

  static Shape anode(ai.djl.ndarray.types.Shape s) {
    int[] d = new int[s.dimension()];
    for (int i = 0; i < d.length; i++) {
      d[i] = Math.toIntExact(s.get(i));
    }
    return Shape.of(d);
  }

  /** Takes ownership of {@code a}, a new array that nothing else will close. */
  Tensor wrap(NDArray a) {
    return wrap(a, null);
  }

  /**
   * Takes ownership of {@code a}, whose shape and dtype the caller knows: reading them from the
   * array would cross into libtorch twice.
   */
  Tensor wrap(NDArray a, Shape shape, DType dtype) {
    return new DjlTensor(this, a, shape, dtype, null);
  }

  DjlScalars scalars() {
    return scalars;
  }

  /**
   * Takes ownership of {@code a}; {@code keepAlive} (may be null) is an object whose memory {@code
   * a} reads, held as long as the tensor: DJL arrays created from Java data read a direct buffer
   * that is freed when its array object is collected, and views of them do not keep it.
   */
  Tensor wrap(NDArray a, Object keepAlive) {
    DType dtype =
        switch (a.getDataType()) {
          case FLOAT32 -> DType.FLOAT32;
          case FLOAT64 -> DType.FLOAT64;
          default -> {
            a.close();
            throw new IllegalStateException("djl: unexpected result type " + a.getDataType());
          }
        };
    return new DjlTensor(this, a, anode(a.getShape()), dtype, keepAlive);
  }

  /** Closes the backend's libtorch manager (and what is still attached to it). */
  @Override
  public void close() {
    scalars.close();
    manager.close();
  }

  NDManager manager() {
    return manager;
  }

  // ---- creation -------------------------------------------------------------------------------

  /**
   * DJL's {@code create} wraps a direct Java buffer without copying ({@code from_blob}); libtorch
   * then does not own the memory, and any alias of it (a same-dtype cast, a view) reads freed
   * memory once the creating array is collected. One copy into libtorch's own storage makes every
   * later alias safe: libtorch counts references to its storage.
   */
  private Tensor owned(NDArray fromJava) {
    try (fromJava) {
      return wrap(fromJava.duplicate());
    }
  }

  @Override
  protected Tensor doFromArray(float[] data, Shape shape) {
    return owned(manager.create(data, dj(shape)));
  }

  @Override
  protected Tensor doFromArray(double[] data, Shape shape) {
    return owned(manager.create(data, dj(shape)));
  }

  @Override
  protected Tensor doFull(Shape shape, double value, DType dtype) {
    if (dtype == DType.FLOAT64) {
      double[] d = new double[(int) shape.numel()];
      java.util.Arrays.fill(d, value);
      return fromArray(d, shape);
    }
    return wrap(manager.full(dj(shape), (float) value, DataType.FLOAT32));
  }

  @Override
  protected Tensor doCast(Tensor x, DType dtype) {
    NDArray a = arr(x);
    // libtorch's to(dtype) returns the same tensor when the dtype does not change: copy instead.
    return wrap(dtype == x.dtype() ? a.duplicate() : a.toType(dj(dtype), true));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  protected Tensor doAdd(Tensor a, Tensor b, Shape out) {
    return wrap(arr(a).add(arr(b)), out, a.dtype());
  }

  @Override
  protected Tensor doSub(Tensor a, Tensor b, Shape out) {
    return wrap(arr(a).sub(arr(b)), out, a.dtype());
  }

  @Override
  protected Tensor doMul(Tensor a, Tensor b, Shape out) {
    return wrap(arr(a).mul(arr(b)), out, a.dtype());
  }

  @Override
  protected Tensor doDiv(Tensor a, Tensor b, Shape out) {
    return wrap(arr(a).div(arr(b)), out, a.dtype());
  }

  /** A 0-d array of {@code s} in the tensor's dtype, from the cache ({@link DjlScalars}). */
  private NDArray scalar(Tensor x, double s) {
    return scalars.of(s, x.dtype());
  }

  /** Takes ownership of {@code a}, an elementwise result of {@code x}'s shape and dtype. */
  private Tensor like(Tensor x, NDArray a) {
    return wrap(a, x.shape(), x.dtype());
  }

  @Override
  protected Tensor doAddScalar(Tensor x, double s) {
    return like(x, arr(x).add(scalar(x, s)));
  }

  @Override
  protected Tensor doMulScalar(Tensor x, double s) {
    return like(x, arr(x).mul(scalar(x, s)));
  }

  @Override
  protected Tensor doPowScalar(Tensor x, double p) {
    return like(x, arr(x).pow(scalar(x, p)));
  }

  @Override
  protected Tensor doNeg(Tensor x) {
    return like(x, arr(x).neg());
  }

  @Override
  protected Tensor doExp(Tensor x) {
    return like(x, arr(x).exp());
  }

  @Override
  protected Tensor doLog(Tensor x) {
    return like(x, arr(x).log());
  }

  @Override
  protected Tensor doSqrt(Tensor x) {
    return like(x, arr(x).sqrt());
  }

  @Override
  protected Tensor doSquare(Tensor x) {
    return like(x, arr(x).square());
  }

  @Override
  protected Tensor doRelu(Tensor x) {
    return like(x, Activation.relu(arr(x)));
  }

  @Override
  protected Tensor doTanh(Tensor x) {
    return like(x, arr(x).tanh());
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
    try (NDArray mask = arr(a).gt(arr(b))) {
      return wrap(mask.toType(dj(a.dtype()), false));
    }
  }

  @Override
  protected Tensor doWhere(Tensor mask, Tensor a, Tensor b, Shape out) {
    ai.djl.ndarray.types.Shape s = dj(out);
    // DJL's where does not broadcast its condition: expand all three explicitly (views).
    try (NDArray m = arr(mask).broadcast(s);
        NDArray cond = m.neq(0);
        NDArray x = arr(a).broadcast(s);
        NDArray y = arr(b).broadcast(s)) {
      return wrap(NDArrays.where(cond, x, y));
    }
  }

  @Override
  protected Tensor doBroadcastTo(Tensor x, Shape shape) {
    try (NDArray view = arr(x).broadcast(dj(shape))) {
      return wrap(view.duplicate());
    }
  }

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  protected Tensor doSum(Tensor x, boolean keepDims, int[] ax) {
    NDArray a = arr(x);
    return wrap(ax.length == 0 ? a.sum() : a.sum(ax, keepDims));
  }

  @Override
  protected Tensor doMean(Tensor x, boolean keepDims, int[] ax) {
    double count = (double) x.shape().numel() / Checks.reducedShape(x.shape(), ax, true).numel();
    // libtorch through DJL reduces a mean over one axis only: sum, then divide.
    try (NDArray s = ax.length == 0 ? arr(x).sum() : arr(x).sum(ax, keepDims)) {
      return wrap(s.div(scalar(x, count)));
    }
  }

  @Override
  protected Tensor doMax(Tensor x, boolean keepDims, int[] ax) {
    NDArray cur = arr(x);
    boolean owned = false;
    for (int a : ax) {
      NDArray next = cur.max(new int[] {a}, true);
      if (owned) {
        cur.close();
      }
      cur = next;
      owned = true;
    }
    Shape out = Checks.reducedShape(x.shape(), ax, keepDims);
    if (!owned) {
      cur = cur.duplicate();
    }
    if (!anode(cur.getShape()).equals(out)) {
      NDArray r = cur.reshape(dj(out));
      cur.close();
      cur = r;
    }
    return wrap(cur);
  }

  // ---- layout ---------------------------------------------------------------------------------

  @Override
  protected Tensor doReshape(Tensor x, Shape shape) {
    return wrap(arr(x).reshape(dj(shape)), ((DjlTensor) x).keepAlive());
  }

  @Override
  protected Tensor doPermute(Tensor x, int[] axes) {
    try (NDArray view = arr(x).transpose(axes)) {
      return wrap(view.duplicate());
    }
  }

  @Override
  protected Tensor doConcat(List<Tensor> parts, int axis, Shape out) {
    NDList list = new NDList();
    for (Tensor p : parts) {
      list.add(arr(p));
    }
    return wrap(list.size() == 1 ? list.get(0).duplicate() : NDArrays.concat(list, axis));
  }

  @Override
  protected Tensor doSlice(Tensor x, int ax, int start, int end, Shape out) {
    StringBuilder idx = new StringBuilder();
    for (int d = 0; d < x.shape().rank(); d++) {
      if (d > 0) {
        idx.append(',');
      }
      idx.append(d == ax ? start + ":" + end : ":");
    }
    try (NDArray view = arr(x).get(new NDIndex(idx.toString()))) {
      return wrap(view.duplicate());
    }
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  protected Tensor doMatmul(Tensor a, Tensor b, Shape out) {
    return wrap(arr(a).matMul(arr(b)));
  }

  @Override
  protected Tensor doConv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec, Shape out) {
    return convolutions.conv2d(x, w, bias, spec);
  }

  @Override
  protected Conv2dGradients doConv2dBackward(Conv2dBackwardArgs args) {
    return convolutions.conv2dBackward(args);
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
    return fused.batchNormBackward(x, gamma, eps, g, input, wantGamma, wantBeta);
  }

  // ---- pooling and softmax --------------------------------------------------------------------

  private static PtNDArray avgPool(NDArray x, Pool2dSpec s) {
    return JniUtils.avgPool(
        (PtNDArray) x,
        new ai.djl.ndarray.types.Shape(s.kernelH(), s.kernelW()),
        new ai.djl.ndarray.types.Shape(s.strideH(), s.strideW()),
        new ai.djl.ndarray.types.Shape(s.padH(), s.padW()),
        false,
        true);
  }

  @Override
  protected Tensor doAvgPool2d(Tensor x, Pool2dSpec spec, Shape out) {
    return wrap(avgPool(arr(x), spec));
  }

  @Override
  protected Tensor doAvgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    NDArray g = arr(gradOut);
    try (NDArray zeros = manager.zeros(dj(inputShape), dj(gradOut.dtype()));
        LibtorchGradient gx = new LibtorchGradient(this, zeros, true);
        LibtorchGradient.GradMode on = new LibtorchGradient.GradMode()) {
      try (PtNDArray y = avgPool(gx.alias, spec)) {
        JniUtils.backward(y, (PtNDArray) g, false, false);
      }
      return gx.take();
    }
  }

  @Override
  protected Tensor doGlobalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    try (NDArray view = arr(gradOut).broadcast(dj(inputShape))) {
      return wrap(view.mul(scalar(gradOut, scale)));
    }
  }

  @Override
  protected Tensor doLogSoftmax(Tensor x, int ax) {
    return wrap(arr(x).logSoftmax(ax));
  }
}
