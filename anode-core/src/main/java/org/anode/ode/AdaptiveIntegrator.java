package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.RandomKey;

/**
 * Adaptive integration with the standard step-size controller (Hairer, Nørsett, Wanner, "Solving
 * ODEs I", §II.4: error norm eq. 4.11, step update eq. 4.13 with safety 0.9, factors in [0.2, 10]
 * and exponent 1/(q + 1) for an error estimate of order q, initial step by the algorithm of §II.4
 * "Starting step size" with the same q), for any solver whose {@link Solver#trial} estimates its
 * local error (Dormand–Prince's embedded pair, MALI's ALF). As in Hairer–Wanner's DOPRI5 and
 * scipy's {@code RK45}, which the tests match step for step: a step is accepted when the error norm
 * is below 1; after a rejection the step does not grow again until a step has been accepted; a
 * first-same-as-last solver gets its first stage from the previous step (or from the evaluation the
 * initial step size took). Runs with recording paused on the solver's carried state; returns the
 * accepted steps so that gradient methods replay them, and the final carried state.
 */
final class AdaptiveIntegrator {
  private static final double SAFETY = 0.9;
  private static final double MIN_FACTOR = 0.2;
  private static final double MAX_FACTOR = 10.0;

  private AdaptiveIntegrator() {}

  /** The accepted steps, the final carried state (z first) and the steps tried and rejected. */
  record Carried(TimeGrid grid, List<Variable> state, int rejected) {}

  static Carried solve(OdeBlock block, Stepping.Adaptive s, Variable z0, double t0, double t1) {
    Solver solver = block.solver();
    VectorField f = block.field();
    Variable start = Variable.constant(z0.value());
    double exponent = -1.0 / (solver.errorOrder() + 1);
    Variable[] f0 = {null};
    double h = initialStep(f, block.pass(), start, t0, t1, s, solver.errorOrder(), f0);
    Variable first = solver.firstSameAsLast() ? f0[0] : null;
    if (first == null) {
      Tape.releaseIntermediate(f0[0].value());
    }
    List<Variable> state = block.begin(new TimeGrid(new double[] {t0, t1}, block.pass()), start);
    List<Double> times = new ArrayList<>();
    times.add(t0);
    double t = t0;
    int attempts = 0;
    int rejected = 0;
    boolean rejectedThisStep = false;
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
      int step = times.size() - 1;
      try (TensorScope scope = TensorScope.open()) {
        trial =
            solver.trial(keyed(f, block.pass(), step, solver, first != null), t, h, state, first);
        err =
            errorNorm(trial.error(), state.get(0).value().toDoubleArray(), trial.state().get(0), s);
        if (err < 1.0) {
          for (Variable v : trial.state()) {
            scope.keep(v.value());
          }
          if (trial.lastStage() != null) {
            scope.keep(trial.lastStage().value());
          }
        }
      }
      double factor = err == 0 ? MAX_FACTOR : SAFETY * Math.pow(err, exponent);
      if (err < 1.0) {
        t = last ? t1 : t + h;
        times.add(t);
        // Only the newest accepted state is needed (recording is paused: freed at once).
        OdeBlock.release(state, trial.state(), List.of(z0.value()));
        if (first != null) {
          OdeBlock.release(List.of(first), List.of(trial.lastStage()), inUse(z0, trial.state()));
        }
        state = trial.state();
        first = trial.lastStage();
        h *= Math.min(rejectedThisStep ? 1.0 : MAX_FACTOR, factor);
        rejectedThisStep = false;
      } else {
        rejected++;
        rejectedThisStep = true;
        h *= Math.max(MIN_FACTOR, factor);
      }
    }
    if (first != null) {
      OdeBlock.release(List.of(first), List.of(), inUse(z0, state));
    }
    double[] grid = new double[times.size()];
    for (int i = 0; i < grid.length; i++) {
      grid[i] = times.get(i);
    }
    return new Carried(new TimeGrid(grid, block.pass()), state, rejected);
  }

  /**
   * What a released first stage must not free: the caller's input and the carried state (a field
   * may return its input).
   */
  private static List<Tensor> inUse(Variable z0, List<Variable> state) {
    List<Tensor> kept = new ArrayList<>(List.of(z0.value()));
    for (Variable v : state) {
      kept.add(v.value());
    }
    return kept;
  }

  /**
   * Evaluations of f keyed like {@link OdeBlock#step}: a trial for step {@code i} draws what the
   * replay of accepted step {@code i} will draw; a first-same-as-last solver's last stage, being
   * the first stage of step {@code i + 1}, draws what that step's first stage will.
   */
  private static StateSpace.Field<Variable> keyed(
      VectorField f, long pass, int step, Solver solver, boolean firstGiven) {
    int lastStage = solver.firstSameAsLast() ? solver.evaluationsPerStep() : -1;
    int[] stage = {firstGiven ? 1 : 0};
    return (t, v) -> {
      int k = stage[0]++;
      long key = k == lastStage ? RandomKey.of(pass, step + 1, 0) : RandomKey.of(pass, step, k);
      try (RandomKey ignored = RandomKey.set(key)) {
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

  /**
   * Hairer–Wanner's starting step size for an error estimate of order {@code q} (exponent 1/(q +
   * 1), as scipy's {@code select_initial_step} with the solver's error-estimator order); {@code f0}
   * receives {@code f(t0, y0)}, evaluated with the key of step 0's first stage so that a
   * first-same-as-last solver can use it as that stage.
   */
  private static double initialStep(
      VectorField f,
      long pass,
      Variable y0,
      double t0,
      double t1,
      Stepping.Adaptive s,
      int q,
      Variable[] f0) {
    try (TensorScope scope = TensorScope.open()) {
      double[] y = y0.value().toDoubleArray();
      try (RandomKey key = RandomKey.set(RandomKey.of(pass, 0, 0))) {
        f0[0] = f.evaluate(t0, y0);
      }
      scope.keep(f0[0].value());
      double[] f0v = f0[0].value().toDoubleArray();
      double d0 = rmsScaled(y, y, s);
      double d1 = rmsScaled(f0v, y, s);
      double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
      h0 = Math.min(h0, t1 - t0);
      Variable y1 = Ops.add(y0, Ops.mulScalar(f0[0], h0));
      double[] f1v = f.evaluate(t0 + h0, y1).value().toDoubleArray();
      double[] diff = new double[f1v.length];
      for (int j = 0; j < diff.length; j++) {
        diff[j] = f1v[j] - f0v[j];
      }
      double d2 = rmsScaled(diff, y, s) / h0;
      double h1 =
          Math.max(d1, d2) <= 1e-15
              ? Math.max(1e-6, h0 * 1e-3)
              : Math.pow(0.01 / Math.max(d1, d2), 1.0 / (q + 1));
      return Math.min(Math.min(100 * h0, h1), t1 - t0);
    }
  }
}
