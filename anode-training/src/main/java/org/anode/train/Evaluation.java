package org.anode.train;

import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.data.DataLoader;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;

/** Test loss and accuracy of a model: what {@code anode eval} and the trainer's epochs report. */
public final class Evaluation {
  private Evaluation() {}

  /** Mean loss and top-1 accuracy over {@code data}, in evaluation mode, without a tape. */
  public static double[] run(Backend backend, Module model, DType dtype, DataLoader data) {
    if (data.data().size() == 0) {
      throw new IllegalArgumentException("evaluation: the evaluation set has no images");
    }
    model.eval();
    double lossSum = 0;
    int right = 0;
    int seen = 0;
    try (DataLoader.Epoch batches = data.epoch(0);
        Tape.Pause off = Tape.pause()) {
      while (batches.hasNext()) {
        DataLoader.Batch b = batches.next();
        try (TensorScope scope = TensorScope.open()) {
          Variable logits = model.forward(Variable.constant(images(backend, dtype, b, data)));
          lossSum += CrossEntropyLoss.of(logits, b.labels()).value().item() * b.size();
          right += correct(logits.value(), b.labels());
          seen += b.size();
        }
      }
    } finally {
      model.train(true);
    }
    return new double[] {lossSum / seen, (double) right / seen};
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
