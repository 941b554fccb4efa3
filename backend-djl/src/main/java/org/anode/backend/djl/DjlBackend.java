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
import org.anode.api.Backend;
import org.anode.api.BackendOptions;
import org.anode.api.Checks;
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
final class DjlBackend implements Backend {
  private final NDManager manager;
  private final int threads;
  private final DjlConvolutions convolutions = new DjlConvolutions(this);
  private final boolean widenFloat32Convolutions;

  DjlBackend(BackendOptions options) {
    this.manager = NDManager.newBaseManager("PyTorch");
    if (options.threads() > 0) {
      JniUtils.setNumThreads(options.threads());
    }
    JniUtils.setGradMode(false);
    this.threads = JniUtils.getNumThreads();
    this.widenFloat32Convolutions = Float32Convolutions.mustWiden(manager);
  }

  /** Whether a convolution on {@code dtype} runs in float64 ({@link Float32Convolutions}). */
  boolean widened(DType dtype) {
    return dtype == DType.FLOAT32 && widenFloat32Convolutions;
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

  NDArray arr(String op, Tensor t) {
    Checks.onBackend(op, this, t);
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
  public Tensor fromArray(float[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return owned(manager.create(data, dj(shape)));
  }

  @Override
  public Tensor fromArray(double[] data, Shape shape) {
    Checks.dataLength("fromArray", data.length, shape);
    return owned(manager.create(data, dj(shape)));
  }

  @Override
  public Tensor full(Shape shape, double value, DType dtype) {
    if (dtype == DType.FLOAT64) {
      double[] d = new double[(int) shape.numel()];
      java.util.Arrays.fill(d, value);
      return fromArray(d, shape);
    }
    return wrap(manager.full(dj(shape), (float) value, DataType.FLOAT32));
  }

  @Override
  public Tensor cast(Tensor x, DType dtype) {
    NDArray a = arr("cast", x);
    // libtorch's to(dtype) returns the same tensor when the dtype does not change: copy instead.
    return wrap(dtype == x.dtype() ? a.duplicate() : a.toType(dj(dtype), true));
  }

  // ---- elementwise ----------------------------------------------------------------------------

  @Override
  public Tensor add(Tensor a, Tensor b) {
    Checks.broadcast("add", a, b);
    return wrap(arr("add", a).add(arr("add", b)));
  }

  @Override
  public Tensor sub(Tensor a, Tensor b) {
    Checks.broadcast("sub", a, b);
    return wrap(arr("sub", a).sub(arr("sub", b)));
  }

  @Override
  public Tensor mul(Tensor a, Tensor b) {
    Checks.broadcast("mul", a, b);
    return wrap(arr("mul", a).mul(arr("mul", b)));
  }

  @Override
  public Tensor div(Tensor a, Tensor b) {
    Checks.broadcast("div", a, b);
    return wrap(arr("div", a).div(arr("div", b)));
  }

  /**
   * A scalar in the tensor's dtype: libtorch promotes a float32 rank-0 tensor combined with a
   * float64 scalar to float64, so the scalar must not be a Double for float32 tensors.
   */
  private static Number scalar(Tensor x, double s) {
    return x.dtype() == DType.FLOAT32 ? (Number) (float) s : (Number) s;
  }

  @Override
  public Tensor addScalar(Tensor x, double s) {
    return wrap(arr("addScalar", x).add(scalar(x, s)));
  }

  @Override
  public Tensor mulScalar(Tensor x, double s) {
    return wrap(arr("mulScalar", x).mul(scalar(x, s)));
  }

  @Override
  public Tensor powScalar(Tensor x, double p) {
    return wrap(arr("powScalar", x).pow(scalar(x, p)));
  }

  @Override
  public Tensor neg(Tensor x) {
    return wrap(arr("neg", x).neg());
  }

  @Override
  public Tensor exp(Tensor x) {
    return wrap(arr("exp", x).exp());
  }

  @Override
  public Tensor log(Tensor x) {
    return wrap(arr("log", x).log());
  }

  @Override
  public Tensor sqrt(Tensor x) {
    return wrap(arr("sqrt", x).sqrt());
  }

  @Override
  public Tensor square(Tensor x) {
    return wrap(arr("square", x).square());
  }

  @Override
  public Tensor relu(Tensor x) {
    return wrap(Activation.relu(arr("relu", x)));
  }

  @Override
  public Tensor tanh(Tensor x) {
    return wrap(arr("tanh", x).tanh());
  }

  @Override
  public Tensor greaterThan(Tensor a, Tensor b) {
    Checks.broadcast("greaterThan", a, b);
    try (NDArray mask = arr("greaterThan", a).gt(arr("greaterThan", b))) {
      return wrap(mask.toType(dj(a.dtype()), false));
    }
  }

  @Override
  public Tensor where(Tensor mask, Tensor a, Tensor b) {
    Checks.sameDType("where", mask, a);
    Shape out = Checks.broadcast("where", mask.shape(), Checks.broadcast("where", a, b));
    ai.djl.ndarray.types.Shape s = dj(out);
    // DJL's where does not broadcast its condition: expand all three explicitly (views).
    try (NDArray m = arr("where", mask).broadcast(s);
        NDArray cond = m.neq(0);
        NDArray x = arr("where", a).broadcast(s);
        NDArray y = arr("where", b).broadcast(s)) {
      return wrap(NDArrays.where(cond, x, y));
    }
  }

  @Override
  public Tensor broadcastTo(Tensor x, Shape shape) {
    Checks.broadcastableTo("broadcastTo", x.shape(), shape);
    try (NDArray view = arr("broadcastTo", x).broadcast(dj(shape))) {
      return wrap(view.duplicate());
    }
  }

  // ---- reductions -----------------------------------------------------------------------------

  @Override
  public Tensor sum(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("sum", x.shape(), axes);
    NDArray a = arr("sum", x);
    return wrap(ax.length == 0 ? a.sum() : a.sum(ax, keepDims));
  }

  @Override
  public Tensor mean(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("mean", x.shape(), axes);
    double count = (double) x.shape().numel() / Checks.reducedShape(x.shape(), ax, true).numel();
    // libtorch through DJL reduces a mean over one axis only: sum, then divide.
    try (NDArray s = ax.length == 0 ? arr("mean", x).sum() : arr("mean", x).sum(ax, keepDims)) {
      return wrap(s.div(scalar(x, count)));
    }
  }

  @Override
  public Tensor max(Tensor x, boolean keepDims, int... axes) {
    int[] ax = Checks.axes("max", x.shape(), axes);
    NDArray cur = arr("max", x);
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
  public Tensor reshape(Tensor x, Shape shape) {
    Checks.reshape(x, shape);
    return wrap(arr("reshape", x).reshape(dj(shape)), ((DjlTensor) x).keepAlive());
  }

  @Override
  public Tensor permute(Tensor x, int... axes) {
    Checks.permutation(x, axes);
    try (NDArray view = arr("permute", x).transpose(axes)) {
      return wrap(view.duplicate());
    }
  }

  @Override
  public Tensor concat(List<Tensor> parts, int axis) {
    Shape out = Checks.concat(parts, axis);
    NDList list = new NDList();
    for (Tensor p : parts) {
      list.add(arr("concat", p));
    }
    return wrap(
        list.size() == 1
            ? list.get(0).duplicate()
            : NDArrays.concat(list, out.normalizeAxis(axis)));
  }

  @Override
  public Tensor slice(Tensor x, int axis, int start, int end) {
    Checks.slice(x, axis, start, end);
    int ax = x.shape().normalizeAxis(axis);
    StringBuilder idx = new StringBuilder();
    for (int d = 0; d < x.shape().rank(); d++) {
      if (d > 0) {
        idx.append(',');
      }
      idx.append(d == ax ? start + ":" + end : ":");
    }
    try (NDArray view = arr("slice", x).get(new NDIndex(idx.toString()))) {
      return wrap(view.duplicate());
    }
  }

  // ---- linear algebra and convolution ---------------------------------------------------------

  @Override
  public Tensor matmul(Tensor a, Tensor b) {
    Checks.matmul(a, b);
    return wrap(arr("matmul", a).matMul(arr("matmul", b)));
  }

  @Override
  public Tensor conv2d(Tensor x, Tensor w, Tensor bias, Conv2dSpec spec) {
    return convolutions.conv2d(x, w, bias, spec);
  }

  @Override
  public Tensor conv2dBackwardInput(Tensor gradOut, Tensor w, Shape inputShape, Conv2dSpec spec) {
    return convolutions.conv2dBackwardInput(gradOut, w, inputShape, spec);
  }

  @Override
  public Tensor conv2dBackwardWeight(Tensor x, Tensor gradOut, Shape weightShape, Conv2dSpec spec) {
    return convolutions.conv2dBackwardWeight(x, gradOut, weightShape, spec);
  }

  @Override
  public Conv2dGradients conv2dBackward(
      Tensor x, Tensor w, Tensor gradOut, Conv2dSpec spec, boolean input, boolean weight) {
    return convolutions.conv2dBackward(x, w, gradOut, spec, input, weight);
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
  public Tensor avgPool2d(Tensor x, Pool2dSpec spec) {
    spec.outputShape(x.shape());
    return wrap(avgPool(arr("avgPool2d", x), spec));
  }

  @Override
  public Tensor avgPool2dBackward(Tensor gradOut, Shape inputShape, Pool2dSpec spec) {
    Shape out = spec.outputShape(inputShape);
    Checks.gradientShape("avgPool2dBackward", gradOut, out);
    NDArray g = arr("avgPool2dBackward", gradOut);
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
  public Tensor globalAvgPoolBackward(Tensor gradOut, Shape inputShape) {
    Shape expected = Shape.of(inputShape.dim(0), inputShape.dim(1), 1, 1);
    Checks.gradientShape("globalAvgPoolBackward", gradOut, expected);
    double scale = 1.0 / (inputShape.dim(2) * (double) inputShape.dim(3));
    try (NDArray view = arr("globalAvgPoolBackward", gradOut).broadcast(dj(inputShape))) {
      return wrap(view.mul(scalar(gradOut, scale)));
    }
  }

  @Override
  public Tensor logSoftmax(Tensor x, int axis) {
    int ax = x.shape().normalizeAxis(axis);
    return wrap(arr("logSoftmax", x).logSoftmax(ax));
  }
}
