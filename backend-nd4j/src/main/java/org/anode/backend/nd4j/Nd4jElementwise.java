package org.anode.backend.nd4j;

import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How the ND4J backend runs an elementwise op: into a new tensor, in the layout of its operands.
 * Elementwise ops do not care about the order of the values, so an op on a channels-last or blocked
 * tensor ({@link StorageLayout}) runs and leaves its result in that layout — the one the next
 * convolution reads — instead of turning it back into NCHW.
 */
final class Nd4jElementwise {
  private final Nd4jBackend backend;

  Nd4jElementwise(Nd4jBackend backend) {
    this.backend = backend;
  }

  interface PairOp {
    void exec(INDArray a, INDArray b, INDArray out);
  }

  /**
   * An elementwise op of two operands. When either is kept in a layout other than NCHW (the one
   * {@link StorageLayout#preferred} names, if both are) and the other has the same shape or is a
   * single value, the op runs in that layout and so does its result (an operand of the same shape
   * in another layout is copied to it): elementwise ops do not care about the order of the values,
   * and the layout stays what the next convolution reads.
   */
  Tensor binary(Tensor a, Tensor b, Shape out, PairOp f) {
    Nd4jTensor ta = Nd4jBackend.own(a);
    Nd4jTensor tb = Nd4jBackend.own(b);
    StorageLayout layout = StorageLayout.preferred(ta.layout(), tb.layout());
    if (layout != StorageLayout.NCHW
        && ChannelsLastLayout.fitsElementwise(a, out)
        && ChannelsLastLayout.fitsElementwise(b, out)) {
      int rank = layout.storageShape(out).rank();
      return backend.create(
          a.dtype(),
          out,
          layout,
          z -> {
            try (Nd4jScratch s = new Nd4jScratch()) {
              INDArray x = a.shape().equals(out) ? s.inLayout(ta, layout) : single(ta, rank);
              INDArray y = b.shape().equals(out) ? s.inLayout(tb, layout) : single(tb, rank);
              f.exec(x, y, z);
            }
          });
    }
    INDArray x = ta.array();
    INDArray y = tb.array();
    return backend.create(a.dtype(), out, z -> f.exec(x, y, z));
  }

  /** A single-value operand as an array of {@code rank} ones, to broadcast against storage. */
  private static INDArray single(Nd4jTensor t, int rank) {
    INDArray a = t.array();
    if (a.rank() == rank) {
      return a;
    }
    long[] ones = new long[rank];
    java.util.Arrays.fill(ones, 1);
    return a.reshape(ones);
  }

  interface UnaryOp {
    void exec(INDArray x, INDArray out);
  }

  /** An elementwise op of one operand, in the operand's layout (see {@link #binary}). */
  Tensor unary(Tensor x, UnaryOp f) {
    Nd4jTensor t = Nd4jBackend.own(x);
    StorageLayout layout = t.layout();
    if (layout != StorageLayout.NCHW) {
      INDArray storage = t.storage();
      return backend.create(x.dtype(), x.shape(), layout, z -> f.exec(storage, z));
    }
    INDArray a = Nd4jBackend.arr(x);
    return backend.create(x.dtype(), x.shape(), z -> f.exec(a, z));
  }
}
