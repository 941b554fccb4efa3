package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.Backend;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.MemoryMeter;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Parameter;
import org.anode.nn.Recomputation;

/**
 * The continuous adjoint of Chen, Rubanova, Bettencourt, Duvenaud (2018, "Neural Ordinary
 * Differential Equations", §2, Algorithm 1): optimize-then-discretize. The forward pass keeps only
 * z(T). The backward pass integrates the augmented system
 *
 * <pre>
 *   dz/dt = f(z, t; θ),   da/dt = −aᵀ ∂f/∂z,   da_θ/dt = −aᵀ ∂f/∂θ
 * </pre>
 *
 * from T back to 0 with the same solver and the same steps, starting from {@code a(T) = dL/dz(T)}
 * and {@code a_θ(T) = 0}, rebuilding z by reverse integration. Each evaluation of the augmented
 * right-hand side is one evaluation of f on a small inner tape and one sweep (a vector–Jacobian
 * product). Then {@code dL/dz(0) = a(0)} and {@code dL/dθ = a_θ(0)}.
 *
 * <p>It is implemented faithfully, not made wrong on purpose: its gradient is that of the
 * continuous problem, which differs from the gradient of the discrete forward pass by the
 * discretization error, and reversing z through a ReLU/conv flow is unstable — the ANODE paper's
 * point (§2, Figs. 2–3). Memory {@code O(L)}: the state z, a and a_θ plus one evaluation's tape.
 */
public final class AdjointGradient implements GradientMethod {

  @Override
  public Variable integrate(BlockContext block, Variable z0) {
    OdeBlock.Solution forward = block.solveUnrecorded(z0);
    TimeGrid grid = forward.grid();
    Tensor zT = forward.end().value();
    return block.checkpointNode(
        z0,
        zT,
        (gradOut, needInputGrad) -> integrateBackward(block, grid, zT, gradOut, block.parameters()),
        zT);
  }

  private Tensor integrateBackward(
      BlockContext block, TimeGrid grid, Tensor zT, Tensor gradOut, List<Parameter> params) {
    Backend be = zT.backend();
    MemoryMeter meter = Tape.currentMeter();
    int p = params.size();
    StateSpace<Tensor[]> space = augmentedSpace(be);
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      Tensor[] state = new Tensor[p + 2];
      state[0] = zT;
      state[1] = gradOut;
      for (int i = 0; i < p; i++) {
        state[i + 2] = be.zeros(params.get(i).shape(), params.get(i).dtype());
      }
      meter.retain(state[0]);
      meter.retain(state[1]);
      Solver solver = block.solver();
      // A solver that carries more than the state (ALF's v, reversible Heun's ŷ and f(ŷ)) starts
      // it at T, with the augmented field; a Runge–Kutta method carries the state alone.
      List<Tensor[]> carried;
      try (TensorScope beginScope = TensorScope.open()) {
        carried =
            solver.begin(
                space, keyed(block, grid, grid.steps(), params), grid.t(grid.steps()), state);
        keepAll(beginScope, carried);
      }
      for (int i = grid.steps() - 1; i >= 0; i--) {
        List<Tensor[]> next;
        try (TensorScope stepScope = TensorScope.open()) {
          next =
              solver.advance(
                  space, keyed(block, grid, i, params), grid.t(i + 1), -grid.dt(i), carried);
          keepAll(stepScope, next);
        }
        meter.retain(next.get(0)[0]);
        meter.retain(next.get(0)[1]);
        meter.release(carried.get(0)[0]);
        meter.release(carried.get(0)[1]);
        free(carried, next, zT, gradOut);
        carried = next;
      }
      state = carried.get(0);
      free(carried, List.<Tensor[]>of(state), zT, gradOut);
      meter.release(state[0]);
      meter.release(state[1]);
      for (int i = 0; i < p; i++) {
        params.get(i).accumulateGrad(state[i + 2]);
      }
      return scope.keep(state[1]);
    }
  }

  /** The augmented field for step {@code step}, its evaluations keyed (pass, step, stage). */
  private static StateSpace.Field<Tensor[]> keyed(
      BlockContext block, TimeGrid grid, int step, List<Parameter> params) {
    int[] stage = {0};
    return (t, y) -> augmentedField(block, grid, step, stage[0]++, params, t, y);
  }

  private static void keepAll(TensorScope scope, List<Tensor[]> carried) {
    for (Tensor[] state : carried) {
      for (Tensor t : state) {
        scope.keep(t);
      }
    }
  }

  /**
   * Frees the tensors of {@code old} that {@code next} does not carry on: the node's own ({@code
   * zT}, {@code gradOut}) through {@link Tape#lastRead}, the rest by closing them.
   */
  private static void free(List<Tensor[]> old, List<Tensor[]> next, Tensor zT, Tensor gradOut) {
    java.util.Set<Tensor> kept =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (Tensor[] state : next) {
      kept.addAll(java.util.Arrays.asList(state));
    }
    for (Tensor[] state : old) {
      for (Tensor t : state) {
        if (!kept.add(t)) {
          continue;
        }
        if (t == zT || t == gradOut) {
          Tape.lastRead(t); // the node's: freed now unless someone else holds it
        } else {
          t.close();
        }
      }
    }
  }

  /** {@code [f(z), −aᵀ∂f/∂z, −aᵀ∂f/∂θ_1, …]} by one evaluation of f and one sweep. */
  private static Tensor[] augmentedField(
      BlockContext block,
      TimeGrid grid,
      int step,
      int stage,
      List<Parameter> params,
      double t,
      Tensor[] y) {
    Backend be = y[0].backend();
    List<Tensor> stashed = new ArrayList<>(params.size());
    for (Parameter q : params) {
      stashed.add(q.takeGrad());
    }
    // One scope per evaluation: f's intermediates die as soon as its sweep has read them.
    try (TensorScope evaluation = TensorScope.open()) {
      Variable z = Variable.leaf(y[0]);
      Tensor fz;
      try (Tape tape = Tape.record()) {
        Variable out = block.evaluate(grid, step, stage, t, z);
        fz = out.value();
        tape.backward(out, y[1]);
      }
      Tensor[] r = new Tensor[y.length];
      r[0] = fz;
      r[1] = negatedGrad(be, z);
      for (int i = 0; i < params.size(); i++) {
        r[i + 2] = negatedGrad(be, params.get(i));
        if (r[i + 2] == null) {
          r[i + 2] = be.zeros(params.get(i).shape(), params.get(i).dtype());
        }
      }
      for (Tensor k : r) {
        evaluation.keep(k);
      }
      return r;
    } finally {
      for (int i = 0; i < params.size(); i++) {
        Tensor old = stashed.get(i);
        params.get(i).zeroGrad();
        if (old != null) {
          params.get(i).accumulateGrad(old);
          old.close();
        }
      }
    }
  }

  private static Tensor negatedGrad(Backend be, Variable v) {
    Tensor g = v.takeGrad();
    if (g == null) {
      return null;
    }
    Tensor n = be.neg(g);
    g.close();
    return n;
  }

  /**
   * Each component advanced by the backend's fused {@code y + Σ cᵢ·kᵢ}. In a step's final update
   * the stage values of a component are freed as soon as that component is advanced: the next
   * component's update then runs without them (one |z| less at the peak).
   */
  private static StateSpace<Tensor[]> augmentedSpace(Backend be) {
    return new StateSpace<>() {
      @Override
      public Tensor[] combine(Tensor[] y, double h, double[] coefficients, List<Tensor[]> terms) {
        return advance(y, h, coefficients, terms, false);
      }

      @Override
      public Tensor[] update(Tensor[] y, double h, double[] weights, List<Tensor[]> stages) {
        return advance(y, h, weights, stages, true);
      }

      private Tensor[] advance(
          Tensor[] y, double h, double[] coefficients, List<Tensor[]> terms, boolean last) {
        double[] scaled = StateSpace.scaled(h, coefficients, terms.size());
        if (scaled == null) {
          return y;
        }
        Tensor[] out = new Tensor[y.length];
        List<Tensor> k = new ArrayList<>(terms.size());
        for (int c = 0; c < y.length; c++) {
          k.clear();
          for (Tensor[] term : terms) {
            k.add(term[c]);
          }
          out[c] = be.addScaled(y[c], scaled, k);
          if (last) {
            for (Tensor stage : k) {
              if (stage != y[c]) {
                stage.close();
              }
            }
          }
        }
        return out;
      }
    };
  }

  @Override
  public String name() {
    return "adjoint";
  }

  @Override
  public String toString() {
    return name();
  }
}
