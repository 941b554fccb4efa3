package org.anode.cli.experiment;

import java.util.Map;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.cli.RunConfig;
import org.anode.cli.TrainingModule;
import org.anode.data.DataLoader;
import org.anode.nn.CrossEntropyLoss;
import org.anode.nn.Module;
import org.anode.nn.Parameter;
import org.anode.train.Evaluation;

/**
 * How far a gradient method's gradient is from the exact gradient of the discrete network
 * (store-all backprop) at the settings a run trains with: the whole model at its initial weights,
 * one batch of training images, float64, the relative error ‖g − g_store-all‖ / ‖g_store-all‖ over
 * all parameters. ANODE, revolve and the reversible method are exact up to round-off; the adjoint
 * is not (Gholami et al. 2019, §2).
 */
final class GradientAgreement {
  /** Images of the batch the gradients are taken on. */
  static final int IMAGES = 16;

  private GradientAgreement() {}

  /**
   * The relative error of {@code config}'s method against store-all with the same solver; {@code
   * references} caches store-all's gradient by solver for the next call with the same model, data
   * and seed.
   */
  static double relativeError(
      RunConfig config, Backend be, DataLoader train, Map<String, double[]> references) {
    double[] r =
        references.computeIfAbsent(
            config.solver(), s -> gradient(config.withMethod("store-all"), be, train));
    double[] g = gradient(config, be, train);
    if (g.length != r.length) {
      throw new IllegalStateException(
          "gradients of " + g.length + " and " + r.length + " values: not the same model");
    }
    double diff = 0;
    double norm = 0;
    for (int i = 0; i < g.length; i++) {
      diff += (g[i] - r[i]) * (g[i] - r[i]);
      norm += r[i] * r[i];
    }
    return Math.sqrt(diff / norm);
  }

  /** All parameter gradients of one step of {@code config}'s model, in parameter order. */
  static double[] gradient(RunConfig config, Backend be, DataLoader train) {
    DType dtype = config.dtype();
    DataLoader.Batch b =
        train.assemble(0, train.order(0), 0, Math.min(IMAGES, train.data().size()));
    try (Module net = TrainingModule.model(config, be, dtype);
        TensorScope scope = TensorScope.open()) {
      net.train(true);
      try (Tape tape = Tape.record()) {
        Variable logits = net.forward(Variable.constant(Evaluation.images(be, dtype, b, train)));
        tape.backward(CrossEntropyLoss.of(logits, b.labels()));
      }
      int n = 0;
      for (Parameter p : net.parameters().values()) {
        n += (int) p.value().shape().numel();
      }
      double[] out = new double[n];
      int at = 0;
      for (Parameter p : net.parameters().values()) {
        double[] v = p.grad().toDoubleArray();
        System.arraycopy(v, 0, out, at, v.length);
        at += v.length;
      }
      return out;
    }
  }
}
