package org.anode.train;

import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.data.DataLoader;
import org.anode.data.ImageDataset;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;

/** Test loss and accuracy of a model: what {@code anode eval} and the trainer's epochs report. */
public final class Evaluation {
  private Evaluation() {}

  /** Mean loss and top-1 accuracy over {@code data}, in evaluation mode, without a tape. */
  public static double[] run(Backend backend, Module model, DType dtype, DataLoader data) {
    return run(backend, model, dtype, data, false);
  }

  /**
   * As {@link #run(Backend, Module, DType, DataLoader)}; with {@code flips}, each image's logits
   * are the mean of the logits of the image and of its horizontal mirror (test-time augmentation
   * with the flip the training augmentation draws; twice the forward passes), and a third figure is
   * returned: the accuracy of the unflipped images' logits alone, from the same pass.
   */
  public static double[] run(
      Backend backend, Module model, DType dtype, DataLoader data, boolean flips) {
    if (data.data().size() == 0) {
      throw new IllegalArgumentException("evaluation: the evaluation set has no images");
    }
    model.eval();
    double lossSum = 0;
    int right = 0;
    int rightUnflipped = 0;
    int seen = 0;
    try (DataLoader.Epoch batches = data.epoch(0);
        Tape.Pause off = Tape.pause()) {
      while (batches.hasNext()) {
        DataLoader.Batch b = batches.next();
        try (TensorScope scope = TensorScope.open()) {
          Variable logits = model.forward(Variable.constant(images(backend, dtype, b, data)));
          rightUnflipped += flips ? correct(logits.value(), b.labels()) : 0;
          if (flips) {
            DataLoader.Batch m = mirrored(b, data.data());
            Variable mirror = model.forward(Variable.constant(images(backend, dtype, m, data)));
            logits = Ops.mulScalar(Ops.add(logits, mirror), 0.5);
          }
          lossSum += CrossEntropyLoss.of(logits, b.labels()).value().item() * b.size();
          right += correct(logits.value(), b.labels());
          seen += b.size();
        }
      }
    } finally {
      model.train(true);
    }
    return flips
        ? new double[] {lossSum / seen, (double) right / seen, (double) rightUnflipped / seen}
        : new double[] {lossSum / seen, (double) right / seen};
  }

  /** The batch with every image mirrored left to right (images {@code [n, C, H, W]}). */
  static DataLoader.Batch mirrored(DataLoader.Batch b, ImageDataset d) {
    float[] src = b.images();
    float[] dst = new float[src.length];
    int w = d.width();
    for (int row = 0; row < src.length / w; row++) {
      int o = row * w;
      for (int x = 0; x < w; x++) {
        dst[o + x] = src[o + w - 1 - x];
      }
    }
    return new DataLoader.Batch(dst, b.labels(), b.size());
  }

  /** The batch's images as a tensor of {@code dtype} on {@code backend}. */
  public static Tensor images(Backend backend, DType dtype, DataLoader.Batch b, DataLoader loader) {
    var d = loader.data();
    Shape s = Shape.of(b.size(), d.channels(), d.height(), d.width());
    if (dtype == DType.FLOAT32) {
      return backend.fromArray(b.images(), s);
    }
    double[] v = new double[b.images().length];
    for (int i = 0; i < v.length; i++) {
      v[i] = b.images()[i];
    }
    return backend.fromArray(v, s);
  }

  /** Top-1 hits of {@code logits} against {@code labels}. */
  public static int correct(Tensor logits, int[] labels) {
    double[] v = logits.toDoubleArray();
    int k = logits.shape().dim(1);
    int right = 0;
    for (int i = 0; i < labels.length; i++) {
      int best = 0;
      for (int c = 1; c < k; c++) {
        if (v[i * k + c] > v[i * k + best]) {
          best = c;
        }
      }
      right += best == labels[i] ? 1 : 0;
    }
    return right;
  }
}
