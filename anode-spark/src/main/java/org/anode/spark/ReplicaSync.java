package org.anode.spark;

import java.util.ArrayList;
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
    double mean = reduce.sum(new double[] {mine})[0] / workers;
    if (Math.abs(mine - mean) > 1e-12 * Math.max(1, Math.abs(mean))) {
      throw new IllegalStateException(
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
    Map<String, Parameter> params = model.parameters();
    int n = extra.length;
    for (Parameter p : params.values()) {
      n += (int) p.shape().numel();
    }
    double[] flat = new double[n];
    int at = 0;
    for (Parameter p : params.values()) {
      int size = (int) p.shape().numel();
      if (p.grad() != null) {
        System.arraycopy(p.grad().toDoubleArray(), 0, flat, at, size);
      }
      at += size;
    }
    System.arraycopy(extra, 0, flat, at, extra.length);
    boolean single = params.values().stream().allMatch(p -> p.dtype() == DType.FLOAT32);
    double[] sum = reduce.sum(flat, single ? n - extra.length : 0);
    at = 0;
    for (Parameter p : params.values()) {
      int size = (int) p.shape().numel();
      double[] g = new double[size];
      System.arraycopy(sum, at, g, 0, size);
      at += size;
      p.zeroGrad();
      try (TensorScope scope = TensorScope.open()) {
        p.accumulateGrad(tensor(be, g, p.shape(), p.dtype()));
      }
    }
    double[] totals = new double[extra.length];
    System.arraycopy(sum, at, totals, 0, extra.length);
    return totals;
  }

  private static Tensor tensor(Backend be, double[] values, Shape shape, DType dtype) {
    if (dtype == DType.FLOAT64) {
      return be.fromArray(values, shape);
    }
    float[] f = new float[values.length];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) values[i];
    }
    return be.fromArray(f, shape);
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
    List<double[]> values = new ArrayList<>();
    int n = 0;
    for (Tensor t : buffers.values()) {
      double[] v = t.toDoubleArray();
      values.add(v);
      n += v.length;
    }
    double[] flat = new double[n];
    int at = 0;
    for (double[] v : values) {
      System.arraycopy(v, 0, flat, at, v.length);
      at += v.length;
    }
    double[] sum = reduce.sum(flat);
    Map<String, Tensor> averaged = new LinkedHashMap<>();
    at = 0;
    try (TensorScope scope = TensorScope.open()) {
      for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
        Tensor t = e.getValue();
        double[] v = new double[(int) t.shape().numel()];
        for (int i = 0; i < v.length; i++) {
          v[i] = sum[at + i] / workers;
        }
        at += v.length;
        averaged.put(e.getKey(), tensor(be, v, t.shape(), t.dtype()));
      }
      Map<String, Tensor> state = new LinkedHashMap<>(model.stateDict());
      state.putAll(averaged);
      model.loadStateDict(state);
    }
  }
}
