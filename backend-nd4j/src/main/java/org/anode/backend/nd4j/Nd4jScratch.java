package org.anode.backend.nd4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Scratch memory of one kernel, freed when the kernel returns (and counted as live bytes). */
final class Nd4jScratch implements AutoCloseable {
  private final List<Nd4jMemory.Block> blocks = new ArrayList<>();

  INDArray get(DType dtype, Shape shape) {
    Nd4jMemory.Block b = Nd4jMemory.scratch(dtype, shape);
    blocks.add(b);
    return b.array();
  }

  /** {@code a} broadcast to {@code shape} (the same array when it already has that shape). */
  INDArray expand(INDArray a, Shape shape) {
    if (Arrays.equals(a.shape(), shape.dimsAsLong())) {
      return a;
    }
    INDArray out = get(Nd4jArrays.dtypeOf(a), shape);
    Nd4jArrays.broadcastInto(a, out);
    return out;
  }

  /** {@code t} as a C-ordered {@code [N, H, W, C]} array: its own, or a copy of its values. */
  INDArray channelsLast(Nd4jTensor t) {
    INDArray own = t.channelsLastOrNull();
    if (own != null) {
      return own;
    }
    INDArray nchw = t.array();
    INDArray out = get(Nd4jArrays.dtypeOf(nchw), Nd4jTensor.channelsLastShape(t.shape()));
    out.assign(nchw.permute(0, 2, 3, 1));
    return out;
  }

  /** A C-ordered copy of a view, such as one group's channels. */
  INDArray copy(INDArray view) {
    INDArray out = get(Nd4jArrays.dtypeOf(view), Shape.of(Nd4jArrays.toInt(view.shape())));
    out.assign(view);
    return out;
  }

  @Override
  public void close() {
    blocks.forEach(Nd4jMemory.Block::free);
  }
}
