package org.anode.spark;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.nn.Module;
import org.anode.nn.Parameter;

/**
 * What keeps the replicas of a data-parallel run identical: the check that they start an epoch with
 * the same weights, the sum of their gradients before every update, and the average of their
 * batch-norm running statistics before a checkpoint.
 */
final class ReplicaSync {
  private ReplicaSync() {}

  /**
   * Every replica must start the epoch with the same weights: each worker compares its weighted sum
   * of the weights with the workers' mean (any replica that differs sees a difference).
   */
  static void checkSameWeights(Module model, AllReduce reduce, int workers) {
    double mine = checksum(model);
    double mean = reduce.sum("the weight checksum", new double[] {mine})[0] / workers;
    // Written so that a NaN fails it (a comparison with NaN is false).
    if (!(Math.abs(mine - mean) <= 1e-12 * Math.max(1, Math.abs(mean)))) {
      throw new DeterministicFailure(
          "replicas differ: this worker's weight checksum is "
              + mine
              + ", the workers' mean "
              + mean);
    }
  }

  private static double checksum(Module model) {
    double s = 0;
    int k = 1;
    for (Parameter p : model.parameters().values()) {
      for (double v : p.value().toDoubleArray()) {
        s += v * (k++ % 7 + 1);
      }
    }
    return s;
  }

  /**
   * Sums every parameter's gradient over the workers (a missing one counts as zero) and installs
   * the sum as the gradient; {@code extra} values ride along and their sums are returned.
   */
  static double[] sumGradients(Backend be, Module model, AllReduce reduce, double[] extra) {
    Collection<Parameter> params = model.parameters().values();
    List<Tensor> grads = new ArrayList<>();
    List<Shape> shapes = new ArrayList<>();
    for (Parameter p : params) {
      grads.add(p.grad());
      shapes.add(p.shape());
    }
    double[] flat = concat(grads, shapes, extra);
    boolean single = params.stream().allMatch(p -> p.dtype() == DType.FLOAT32);
    double[] sum = reduce.sum("gradients", flat, single ? flat.length - extra.length : 0);
    int at = 0;
    for (Parameter p : params) {
      p.zeroGrad();
      try (TensorScope scope = TensorScope.open()) {
        p.accumulateGrad(part(be, sum, at, p.shape(), p.dtype(), 1));
      }
      at += (int) p.shape().numel();
    }
    return Arrays.copyOfRange(sum, at, sum.length);
  }

  /**
   * Batch-norm running statistics are each worker's own during the epoch (as PyTorch's DDP without
   * SyncBN); their average over the workers is what the checkpoint keeps.
   */
  static void averageBuffers(Backend be, Module model, AllReduce reduce, int workers) {
    Map<String, Tensor> buffers = model.buffers();
    if (buffers.isEmpty()) {
      return;
    }
    List<Tensor> values = new ArrayList<>(buffers.values());
    List<Shape> shapes = values.stream().map(Tensor::shape).toList();
    double[] sum = reduce.sum("batch-norm statistics", concat(values, shapes, new double[0]));
    Map<String, Tensor> averaged = new LinkedHashMap<>();
    int at = 0;
    try (TensorScope scope = TensorScope.open()) {
      for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
        Tensor t = e.getValue();
        averaged.put(e.getKey(), part(be, sum, at, t.shape(), t.dtype(), workers));
        at += (int) t.shape().numel();
      }
      Map<String, Tensor> state = new LinkedHashMap<>(model.stateDict());
      state.putAll(averaged);
      model.loadStateDict(state);
    }
  }

  /** The tensors' values end to end (a null tensor: zeros of its shape), then {@code extra}. */
  private static double[] concat(List<Tensor> tensors, List<Shape> shapes, double[] extra) {
    int n = extra.length;
    for (Shape s : shapes) {
      n += (int) s.numel();
    }
    double[] flat = new double[n];
    int at = 0;
    for (int i = 0; i < tensors.size(); i++) {
      int size = (int) shapes.get(i).numel();
      if (tensors.get(i) != null) {
        System.arraycopy(tensors.get(i).toDoubleArray(), 0, flat, at, size);
      }
      at += size;
    }
    System.arraycopy(extra, 0, flat, at, extra.length);
    return flat;
  }

  /** {@code flat[at, at + |shape|)}, divided by {@code divisor}, as a tensor of {@code dtype}. */
  private static Tensor part(
      Backend be, double[] flat, int at, Shape shape, DType dtype, double divisor) {
    int size = (int) shape.numel();
    if (dtype == DType.FLOAT64) {
      double[] v = new double[size];
      for (int i = 0; i < size; i++) {
        v[i] = flat[at + i] / divisor;
      }
      return be.fromArray(v, shape);
    }
    float[] f = new float[size];
    for (int i = 0; i < size; i++) {
      f[i] = (float) (flat[at + i] / divisor);
    }
    return be.fromArray(f, shape);
  }
}
