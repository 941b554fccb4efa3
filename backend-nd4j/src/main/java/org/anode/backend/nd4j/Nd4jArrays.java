package org.anode.backend.nd4j;

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

  /** {@code out = broadcast(a)}, exactly: {@code 0 + a}. */
  static void broadcastInto(INDArray a, INDArray out) {
    out.assign(0.0);
    Nd4j.exec(new AddOp(out, a, out));
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
