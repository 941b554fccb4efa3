package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Variable;
import org.anode.nn.RandomKey;

/**
 * Adaptive integration with the standard step-size controller (Hairer, Nørsett, Wanner, "Solving
 * ODEs I", §II.4: error norm eq. 4.11, step update eq. 4.13 with safety 0.9, factors in [0.2, 10]
 * and exponent 1/(q + 1) for an error estimate of order q, initial step by the algorithm of §II.4
 * "Starting step size"), for any solver whose {@link Solver#trial} estimates its local error
 * (Dormand–Prince's embedded pair, MALI's ALF). Runs with recording paused on the solver's carried
 * state; returns the accepted steps so that gradient methods replay them, and the final carried
 * state.
 */
final class AdaptiveIntegrator {
  private static final double SAFETY = 0.9;
  private static final double MIN_FACTOR = 0.2;
  private static final double MAX_FACTOR = 10.0;

  private AdaptiveIntegrator() {}

  /** The accepted steps and the final carried state (z first). */
  record Carried(TimeGrid grid, List<Variable> state) {}

  static Carried solve(OdeBlock block, Stepping.Adaptive s, Variable z0, double t0, double t1) {
    Solver solver = block.solver();
    VectorField f = block.field();
    Variable start = Variable.constant(z0.value());
    double h = initialStep(f, start, t0, t1, s);
    List<Variable> state = block.begin(new TimeGrid(new double[] {t0, t1}, block.pass()), start);
    double exponent = -1.0 / (solver.errorOrder() + 1);
    List<Double> times = new ArrayList<>();
    times.add(t0);
    double t = t0;
    int attempts = 0;
    while (t < t1) {
      if (++attempts > s.maxSteps()) {
        throw new IllegalStateException(
            "adaptive solve: more than " + s.maxSteps() + " steps on [" + t0 + ", " + t1 + "]");
      }
      boolean last = t + h >= t1 || (t1 - (t + h)) < 1e-12 * Math.abs(t1);
      if (last) {
        h = t1 - t;
      }
      Solver.Trial trial;
      double err;
      try (TensorScope scope = TensorScope.open()) {
        trial = solver.trial(keyed(f, block.pass(), times.size() - 1), t, h, state);
        err =
            errorNorm(trial.error(), state.get(0).value().toDoubleArray(), trial.state().get(0), s);
        if (err <= 1.0) {
          for (Variable v : trial.state()) {
            scope.keep(v.value());
          }
        }
      }
      double factor =
          err == 0
              ? MAX_FACTOR
              : Math.min(MAX_FACTOR, Math.max(MIN_FACTOR, SAFETY * Math.pow(err, exponent)));
      if (err <= 1.0) {
        t = last ? t1 : t + h;
        times.add(t);
        // Only the newest accepted state is needed (recording is paused: freed at once).
        OdeBlock.release(state, trial.state(), List.of(z0.value()));
        state = trial.state();
        h *= factor;
      } else {
        h *= Math.min(1.0, factor);
      }
    }
    double[] grid = new double[times.size()];
    for (int i = 0; i < grid.length; i++) {
      grid[i] = times.get(i);
    }
    return new Carried(new TimeGrid(grid, block.pass()), state);
  }

  /**
   * Evaluations of f keyed like {@link OdeBlock#step}: a trial for step {@code i} draws what the
   * replay of accepted step {@code i} will draw.
   */
  private static StateSpace.Field<Variable> keyed(VectorField f, long pass, int step) {
    int[] stage = {0};
    return (t, v) -> {
      try (RandomKey key = RandomKey.set(RandomKey.of(pass, step, stage[0]++))) {
        return f.evaluate(t, v);
      }
    };
  }

  private static double errorNorm(double[] err, double[] y, Variable yNew, Stepping.Adaptive s) {
    double[] y1 = yNew.value().toDoubleArray();
    double sum = 0;
    for (int j = 0; j < err.length; j++) {
      double scale = s.atol() + s.rtol() * Math.max(Math.abs(y[j]), Math.abs(y1[j]));
      sum += (err[j] / scale) * (err[j] / scale);
    }
    return Math.sqrt(sum / err.length);
  }

  private static double rmsScaled(double[] v, double[] y, Stepping.Adaptive s) {
    double sum = 0;
    for (int j = 0; j < v.length; j++) {
      double scale = s.atol() + s.rtol() * Math.abs(y[j]);
      sum += (v[j] / scale) * (v[j] / scale);
    }
    return Math.sqrt(sum / v.length);
  }

  private static double initialStep(
      VectorField f, Variable y0, double t0, double t1, Stepping.Adaptive s) {
    try (TensorScope scope = TensorScope.open()) {
      double[] y = y0.value().toDoubleArray();
      Variable f0 = f.evaluate(t0, y0);
      double[] f0v = f0.value().toDoubleArray();
      double d0 = rmsScaled(y, y, s);
      double d1 = rmsScaled(f0v, y, s);
      double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
      h0 = Math.min(h0, t1 - t0);
      Variable y1 = Ops.add(y0, Ops.mulScalar(f0, h0));
      double[] f1v = f.evaluate(t0 + h0, y1).value().toDoubleArray();
      double[] diff = new double[f1v.length];
      for (int j = 0; j < diff.length; j++) {
        diff[j] = f1v[j] - f0v[j];
      }
      double d2 = rmsScaled(diff, y, s) / h0;
      double h1 =
          Math.max(d1, d2) <= 1e-15
              ? Math.max(1e-6, h0 * 1e-3)
              : Math.pow(0.01 / Math.max(d1, d2), 1.0 / 5);
      return Math.min(Math.min(100 * h0, h1), t1 - t0);
    }
  }
}
