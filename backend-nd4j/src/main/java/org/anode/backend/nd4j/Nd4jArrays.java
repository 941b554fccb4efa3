package org.anode.backend.nd4j;

import java.util.Arrays;
import org.anode.api.DType;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.AddOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Small operations on ND4J arrays that the backend's kernels share. */
final class Nd4jArrays {
  private Nd4jArrays() {}

  /**
   * {@code out = broadcast(a)}, exactly: {@code 0 + a}. A single value is one fill. Otherwise both
   * arrays are first viewed in the order of {@code out}'s storage (a channels-last tensor's NCHW
   * view becomes its C-ordered NHWC array): libnd4j's broadcast walks a strided output element by
   * element, ~30 times slower than a contiguous one (0.24 s of a 2.7 s bench step before).
   */
  static void broadcastInto(INDArray a, INDArray out) {
    if (a.length() == 1) {
      out.assign(a.getDouble(0));
      return;
    }
    int[] order = storageOrder(out);
    INDArray src = a;
    INDArray dst = out;
    if (order != null && a.rank() <= out.rank()) {
      long[] dims = new long[out.rank()];
      Arrays.fill(dims, 1);
      System.arraycopy(a.shape(), 0, dims, out.rank() - a.rank(), a.rank());
      src = (a.rank() == out.rank() ? a : a.reshape(dims)).permute(order);
      dst = out.permute(order);
    }
    dst.assign(0.0);
    Nd4j.exec(new AddOp(dst, src, dst));
  }

  /**
   * The axis order that makes {@code a} C-contiguous (axes by decreasing stride), or null when it
   * already is or no permutation does.
   */
  private static int[] storageOrder(INDArray a) {
    long[] strides = a.stride();
    Integer[] axes = new Integer[a.rank()];
    for (int i = 0; i < axes.length; i++) {
      axes[i] = i;
    }
    Arrays.sort(axes, (i, j) -> Long.compare(strides[j], strides[i]));
    int[] order = new int[axes.length];
    boolean identity = true;
    for (int i = 0; i < order.length; i++) {
      order[i] = axes[i];
      identity &= order[i] == i;
    }
    if (identity) {
      return null;
    }
    INDArray permuted = a.permute(order);
    long expected = 1;
    for (int i = permuted.rank() - 1; i >= 0; i--) {
      if (permuted.size(i) != 1 && permuted.stride(i) != expected) {
        return null;
      }
      expected *= permuted.size(i);
    }
    return order;
  }

  static int[] toInt(long[] dims) {
    int[] out = new int[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = Math.toIntExact(dims[i]);
    }
    return out;
  }

  static DType dtypeOf(INDArray a) {
    return switch (a.dataType()) {
      case FLOAT -> DType.FLOAT32;
      case DOUBLE -> DType.FLOAT64;
      default -> throw new IllegalStateException("nd4j: unexpected type " + a.dataType());
    };
  }

  static void concatInto(INDArray[] arrays, int axis, INDArray out) {
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

  static INDArray sliceView(INDArray a, int axis, int start, int end) {
    INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
    for (int d = 0; d < idx.length; d++) {
      idx[d] = d == axis ? NDArrayIndex.interval(start, end) : NDArrayIndex.all();
    }
    return a.get(idx);
  }

  /** Bytewise copy between two C-ordered arrays of the same dtype and element count. */
  static void memcpy(INDArray dst, INDArray src) {
    long bytes = src.length() * src.dataType().width();
    Pointer.memcpy(dst.data().addressPointer(), src.data().addressPointer(), bytes);
  }
}
