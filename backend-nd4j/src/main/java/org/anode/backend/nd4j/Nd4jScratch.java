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
    return inLayout(t, StorageLayout.NHWC);
  }

  /**
   * {@code t}'s values as the C-ordered storage array of {@code layout}: its own when it is kept
   * so, else a copy in scratch (the tensor keeps its layout).
   */
  INDArray inLayout(Nd4jTensor t, StorageLayout layout) {
    StorageLayout own = t.layout();
    if (own == layout) {
      return t.storage();
    }
    INDArray out = get(Nd4jArrays.dtypeOf(t.storage()), layout.storageShape(t.shape()));
    layout.copyFrom(own, t.storage(), out, t.shape());
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
