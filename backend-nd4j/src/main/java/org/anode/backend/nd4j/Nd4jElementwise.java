package org.anode.backend.nd4j;

import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * How the ND4J backend runs an elementwise op: into a new tensor, in the layout of its operands.
 * Elementwise ops do not care about the order of the values, so an op on a channels-last tensor
 * (see {@link ChannelsLastLayout}) runs and leaves its result channels-last — the layout the next
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
   * An elementwise op of two operands. When either is kept channels-last and the other has the same
   * shape or is a single value, the op runs in that layout and so does its result (an NCHW operand
   * of the same shape is copied to it): elementwise ops do not care about the order of the values,
   * and the layout stays what the next convolution reads.
   */
  Tensor binary(Tensor a, Tensor b, Shape out, PairOp f) {
    Nd4jTensor ta = Nd4jBackend.own(a);
    Nd4jTensor tb = Nd4jBackend.own(b);
    boolean channelsLast = ta.channelsLastOrNull() != null || tb.channelsLastOrNull() != null;
    if (channelsLast
        && ChannelsLastLayout.fitsElementwise(a, out)
        && ChannelsLastLayout.fitsElementwise(b, out)) {
      return backend.create(
          a.dtype(),
          out,
          true,
          z -> {
            try (Nd4jScratch s = new Nd4jScratch()) {
              INDArray x = a.shape().equals(out) ? s.channelsLast(ta) : ta.array();
              INDArray y = b.shape().equals(out) ? s.channelsLast(tb) : tb.array();
              f.exec(x, y, z);
            }
          });
    }
    INDArray x = ta.array();
    INDArray y = tb.array();
    return backend.create(a.dtype(), out, z -> f.exec(x, y, z));
  }

  interface UnaryOp {
    void exec(INDArray x, INDArray out);
  }

  /** An elementwise op of one operand, in the operand's layout (see {@link #binary}). */
  Tensor unary(Tensor x, UnaryOp f) {
    INDArray channelsLast = Nd4jBackend.own(x).channelsLastOrNull();
    if (channelsLast != null) {
      return backend.create(x.dtype(), x.shape(), true, z -> f.exec(channelsLast, z));
    }
    INDArray a = Nd4jBackend.arr(x);
    return backend.create(x.dtype(), x.shape(), z -> f.exec(a, z));
  }
}
