package org.anode.nn;

import java.util.SplittableRandom;
import org.anode.api.Tensor;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;

/**
 * Inverted dropout (Srivastava et al. 2014): in training, each element is zeroed with probability
 * {@code p} and the rest scaled by {@code 1/(1 − p)}; in evaluation, the identity. Masks are drawn
 * in Java from a seeded generator; inside an ODE block the draw is keyed by {@link RandomKey}
 * (pass, step, stage), so a recomputation by ANODE or revolve replays exactly the same mask.
 */
public final class Dropout extends Module {
  private final double p;
  private final long seed;
  private final SplittableRandom sequential;

  public Dropout(double p, long seed) {
    if (!(p >= 0 && p < 1)) {
      throw new IllegalArgumentException("Dropout: p must be in [0, 1), got " + p);
    }
    this.p = p;
    this.seed = seed;
    this.sequential = new SplittableRandom(seed);
  }

  @Override
  public Variable forward(Variable x) {
    if (!isTraining() || p == 0) {
      return x;
    }
    SplittableRandom rng =
        RandomKey.isSet()
            ? new SplittableRandom(RandomKey.mix(seed ^ RandomKey.current()))
            : sequential.split();
    int n = (int) x.shape().numel();
    double[] mask = new double[n];
    double keep = 1.0 / (1.0 - p);
    for (int i = 0; i < n; i++) {
      mask[i] = rng.nextDouble() < p ? 0.0 : keep;
    }
    Tensor m = x.backend().fromArray(mask, x.shape());
    if (m.dtype() != x.dtype()) {
      m = x.backend().cast(m, x.dtype());
    }
    return Ops.mul(x, Variable.constant(m));
  }
}
