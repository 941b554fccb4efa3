package org.anode.autodiff;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.DType;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;

/**
 * Compares the gradients of a tape sweep with central finite differences, in the manner of {@code
 * torch.autograd.gradcheck}. The function's output {@code y} is reduced to the scalar {@code L = Σ
 * y ⊙ R} with a fixed random {@code R}, so that every output element carries a distinct weight;
 * then for every element {@code θ_j} of every leaf, {@code (L(θ_j+ε) − L(θ_j−ε)) / 2ε} is compared
 * with {@code dL/dθ_j} from one backward sweep. Errors are norm-wise relative: {@code ‖g_tape −
 * g_fd‖ / max(‖g_tape‖, ‖g_fd‖)}.
 */
public final class GradientCheck {
  private GradientCheck() {}

  /** The relative error for each leaf, in the order the leaves were given. */
  public record Result(double[] errors) {
    public double max() {
      double m = 0;
      for (double e : errors) {
        m = Math.max(m, e);
      }
      return m;
    }
  }

  /**
   * Checks {@code f} with respect to {@code leaves} (float64 leaves that require gradients; their
   * values are perturbed in place during the check and restored afterwards).
   */
  public static Result check(Supplier<Variable> f, List<Variable> leaves, double eps, long seed) {
    for (Variable v : leaves) {
      if (v.dtype() != DType.FLOAT64 || !v.requiresGrad() || !v.isLeaf()) {
        throw new IllegalArgumentException(
            "GradientCheck: leaves must be float64 leaves that require gradients, got " + v);
      }
    }
    double[][] analytic = new double[leaves.size()][];
    double[] weights;
    try (TensorScope scope = TensorScope.open()) {
      leaves.forEach(Variable::zeroGrad);
      Variable y;
      Variable loss;
      try (Tape tape = Tape.record()) {
        y = f.get();
        weights = randomWeights(y.value().shape().numel(), seed);
        loss = weighted(y, weights);
        tape.backward(loss);
      }
      for (int i = 0; i < leaves.size(); i++) {
        Tensor g = leaves.get(i).grad();
        analytic[i] =
            g == null ? new double[(int) leaves.get(i).shape().numel()] : g.toDoubleArray();
        leaves.get(i).zeroGrad();
      }
    }
    double[] errors = new double[leaves.size()];
    for (int i = 0; i < leaves.size(); i++) {
      Variable leaf = leaves.get(i);
      Tensor original = leaf.value();
      Backend be = original.backend();
      double[] theta = original.toDoubleArray();
      double[] numeric = new double[theta.length];
      try {
        for (int j = 0; j < theta.length; j++) {
          double keep = theta[j];
          theta[j] = keep + eps;
          double plus = evaluate(f, leaf, be, theta, original, weights);
          theta[j] = keep - eps;
          double minus = evaluate(f, leaf, be, theta, original, weights);
          theta[j] = keep;
          numeric[j] = (plus - minus) / (2 * eps);
        }
      } finally {
        leaf.setValue(original);
      }
      errors[i] = relativeError(analytic[i], numeric);
    }
    return new Result(errors);
  }

  private static double evaluate(
      Supplier<Variable> f,
      Variable leaf,
      Backend be,
      double[] theta,
      Tensor original,
      double[] weights) {
    try (TensorScope scope = TensorScope.open();
        Tape.Pause off = Tape.pause()) {
      leaf.setValue(be.fromArray(theta, original.shape()));
      return weighted(f.get(), weights).value().item();
    }
  }

  private static Variable weighted(Variable y, double[] weights) {
    Tensor r = y.backend().fromArray(weights, y.shape());
    if (y.dtype() != DType.FLOAT64) {
      r = y.backend().cast(r, y.dtype());
    }
    return Ops.sum(Ops.mul(y, Variable.constant(r)), false);
  }

  private static double[] randomWeights(long n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[] w = new double[Math.toIntExact(n)];
    for (int i = 0; i < w.length; i++) {
      w[i] = rng.nextDouble(-1.0, 1.0);
    }
    return w;
  }

  /** Norm-wise relative error {@code ‖a − b‖₂ / max(‖a‖₂, ‖b‖₂)}; 0 when both are zero. */
  public static double relativeError(double[] a, double[] b) {
    if (a.length != b.length) {
      throw new IllegalArgumentException(
          "relativeError: lengths differ: " + a.length + " vs " + b.length);
    }
    double diff = 0;
    double na = 0;
    double nb = 0;
    for (int i = 0; i < a.length; i++) {
      diff += (a[i] - b[i]) * (a[i] - b[i]);
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    double scale = Math.max(Math.sqrt(na), Math.sqrt(nb));
    return scale == 0 ? 0 : Math.sqrt(diff) / scale;
  }
}
