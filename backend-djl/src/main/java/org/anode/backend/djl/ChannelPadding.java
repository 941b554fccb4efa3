package org.anode.backend.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import org.anode.api.Conv2dSpec;

/**
 * libtorch's convolution and its gradients on arrays, optionally with every channel count
 * zero-padded to a whole number of {@link Float32Convolutions#BLOCK}s ({@link
 * Float32Convolutions.Route#PADDED}). Exact: an added input channel is zero and meets zero weights,
 * an added output channel is dropped (its upstream gradient is zero), so every sum is the one of
 * the unpadded convolution. The results are new arrays the caller owns, laid out contiguously.
 */
final class ChannelPadding {
  private ChannelPadding() {}

  /** {@code conv(x, w) + b} ({@code b} may be null), padded when {@code padded}. */
  static NDArray forward(NDArray x, NDArray w, NDArray b, Conv2dSpec s, boolean padded) {
    if (!padded) {
      return conv(x, w, b, s);
    }
    long in = x.getShape().get(1);
    long out = w.getShape().get(0);
    try (Padded xp = Padded.of(x, -1, blocks(in));
        Padded wp = Padded.of(w, blocks(out), blocks(in));
        Padded bp = b == null ? null : Padded.of(b, blocks(out), -1)) {
      return channels(conv(xp.array, wp.array, bp == null ? null : bp.array, s), out);
    }
  }

  /**
   * The input and weight gradients of {@code conv(x, w)} from the upstream gradient {@code g}, each
   * only when asked for (else null), padded when {@code padded}.
   */
  static NDArray[] backward(
      NDArray x,
      NDArray w,
      NDArray g,
      Conv2dSpec s,
      boolean input,
      boolean weight,
      boolean padded) {
    if (!padded) {
      return libtorchBackward(x, w, g, s, input, weight);
    }
    long in = x.getShape().get(1);
    long out = w.getShape().get(0);
    try (Padded xp = Padded.of(x, -1, blocks(in));
        Padded wp = Padded.of(w, blocks(out), blocks(in));
        Padded gp = Padded.of(g, -1, blocks(out))) {
      NDArray[] grads = libtorchBackward(xp.array, wp.array, gp.array, s, input, weight);
      return new NDArray[] {
        grads[0] == null ? null : channels(grads[0], in),
        grads[1] == null ? null : weights(grads[1], out, in)
      };
    }
  }

  /** {@code c} rounded up to a whole number of blocks. */
  static long blocks(long c) {
    int b = Float32Convolutions.BLOCK;
    return (c + b - 1) / b * b;
  }

  static PtNDArray conv(NDArray x, NDArray w, NDArray b, Conv2dSpec s) {
    return JniUtils.convolution(
        (PtNDArray) x,
        (PtNDArray) w,
        (PtNDArray) b,
        new Shape(s.strideH(), s.strideW()),
        new Shape(s.padH(), s.padW()),
        new Shape(s.dilationH(), s.dilationW()),
        s.groups());
  }

  /**
   * libtorch's convolution backward kernels, called directly ({@link LibtorchConvolutionBackward}).
   */
  private static NDArray[] libtorchBackward(
      NDArray x, NDArray w, NDArray g, Conv2dSpec s, boolean input, boolean weight) {
    return LibtorchConvolutionBackward.run(x, w, g, s, input, weight);
  }

  /**
   * The first {@code n} channels (axis 1) of {@code a}, contiguous: {@code a} itself when it has no
   * more, else a new array, and {@code a} is closed.
   */
  private static NDArray channels(NDArray a, long n) {
    return a.getShape().get(1) == n ? a : narrowed(a, ":, 0:" + n);
  }

  /**
   * The first {@code out} × {@code in} channels of an OIHW weight gradient, as {@link #channels}.
   */
  private static NDArray weights(NDArray a, long out, long in) {
    Shape s = a.getShape();
    return s.get(0) == out && s.get(1) == in ? a : narrowed(a, "0:" + out + ", 0:" + in);
  }

  private static NDArray narrowed(NDArray a, String index) {
    try (a;
        NDArray view = a.get(new NDIndex(index))) {
      return view.duplicate();
    }
  }

  /**
   * {@code a} with axes 0 and 1 zero-extended to {@code size0} and {@code size1} (-1 leaves an axis
   * as it is): {@code a} itself when nothing is added, which closing then leaves alone.
   */
  private record Padded(NDArray array, boolean owned) implements AutoCloseable {
    static Padded of(NDArray a, long size0, long size1) {
      NDArray cur = a;
      boolean owned = false;
      for (int axis = 0; axis < Math.min(2, a.getShape().dimension()); axis++) {
        long size = axis == 0 ? size0 : size1;
        long have = cur.getShape().get(axis);
        if (size > have) {
          cur = extend(cur, axis, size - have, owned);
          owned = true;
        }
      }
      return new Padded(cur, owned);
    }

    /** {@code a} with {@code extra} zero entries appended along {@code axis}. */
    private static NDArray extend(NDArray a, int axis, long extra, boolean closeInput) {
      long[] dims = a.getShape().getShape().clone(); // getShape() is the shape's own array
      dims[axis] = extra;
      try (NDArray zeros = a.getManager().zeros(new Shape(dims), a.getDataType())) {
        NDArray joined = NDArrays.concat(new NDList(a, zeros), axis);
        if (closeInput) {
          a.close();
        }
        return joined;
      }
    }

    @Override
    public void close() {
      if (owned) {
        array.close();
      }
    }
  }
}
