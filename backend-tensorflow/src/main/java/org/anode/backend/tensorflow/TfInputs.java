package org.anode.backend.tensorflow;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Ops;

/**
 * The placeholders of a kernel graph as the fed tensors are stored, NCHW or channels-last (NHWC,
 * see {@link TfTensor#channelsLast}), and the layout a graph builder asks each of them in. A
 * conversion is a transpose inside the graph, so it costs no session run of its own, and a graph
 * built for one combination of stored layouts is a different kernel from one built for another (the
 * layouts are part of {@link TfKernel.Input}).
 */
@SuppressWarnings({"rawtypes", "unchecked"})
final class TfInputs {
  private final Ops tf;
  private final List<Operand> stored;
  private final List<TfKernel.Input> signature;

  TfInputs(Ops tf, List<Operand> stored, List<TfKernel.Input> signature) {
    this.tf = tf;
    this.stored = stored;
    this.signature = signature;
  }

  int size() {
    return stored.size();
  }

  /** Input {@code i} in the api's layout (NCHW for images). */
  Operand nchw(int i) {
    Operand o = stored.get(i);
    return signature.get(i).channelsLast()
        ? TfBackend.transpose(tf, o, TfConvolutionGraphs.NHWC_TO_NCHW)
        : o;
  }

  /** Every input in the api's layout: what a kernel that knows nothing of layouts reads. */
  List<Operand> allNchw() {
    List<Operand> out = new ArrayList<>(stored.size());
    for (int i = 0; i < stored.size(); i++) {
      out.add(nchw(i));
    }
    return out;
  }

  /**
   * Input {@code i} channels-last: an NCHW image (or a rank-4 shape it broadcasts with, such as [1,
   * C, 1, 1]) transposed; a scalar as it is (the api broadcasts only between equal ranks).
   */
  Operand nhwc(int i) {
    Operand o = stored.get(i);
    TfKernel.Input in = signature.get(i);
    int rank = in.shape().numDimensions();
    if (in.channelsLast() || rank == 0) {
      return o;
    }
    if (rank != 4) {
      throw new IllegalArgumentException(
          "tensorflow: a rank-" + rank + " operand cannot be read channels-last");
    }
    return TfBackend.transpose(tf, o, TfConvolutionGraphs.NCHW_TO_NHWC);
  }
}
