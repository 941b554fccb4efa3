package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import org.anode.api.TensorScope;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Parameter;
import org.anode.nn.RandomKey;

/**
 * An ODE block: {@code z(t1) = z(t0) + ∫ f(t, z; θ) dt}, solved by a {@link Solver} with a {@link
 * Stepping}, and differentiated by a {@link GradientMethod} — a small strategy object, in the
 * manner of Diffrax's {@code adjoint=} argument:
 *
 * <pre>{@code
 * OdeBlock block = new OdeBlock(field, new RungeKutta2(), 0, 1, Stepping.fixed(8),
 *     new CheckpointedGradient());   // ANODE: O(L) + O(N_t) memory, exact gradients
 * Variable zT = block.forward(z0);
 * }</pre>
 *
 * <p>With N_t = 1, Euler and T = 1 the block is a residual block {@code z + f(z)} (ANODE paper, eq.
 * 1). The block counts the evaluations of f in the forward pass and in the backward pass, and the
 * steps advanced without recording (the recomputation cost of checkpointing).
 */
public final class OdeBlock extends org.anode.nn.Module {
  private final VectorField field;
  private final Solver solver;
  private final double t0;
  private final double t1;
  private final Stepping stepping;
  private GradientMethod method;
  private org.anode.api.Shape lastInputShape;
  private long forwardEvaluations;
  private long backwardEvaluations;
  private long unrecordedSteps;
  private long passes;
  private int lastSteps;

  public OdeBlock(
      VectorField field,
      Solver solver,
      double t0,
      double t1,
      Stepping stepping,
      GradientMethod method) {
    if (!(t1 > t0)) {
      throw new IllegalArgumentException("OdeBlock: t1 must be > t0, got [" + t0 + ", " + t1 + "]");
    }
    if (stepping instanceof Stepping.Adaptive && !solver.estimatesError()) {
      throw new IllegalArgumentException(
          "OdeBlock: adaptive stepping needs a solver that estimates its error (dopri5, alf), got "
              + solver);
    }
    this.field = registerModule("field", field);
    this.solver = solver;
    this.t0 = t0;
    this.t1 = t1;
    this.stepping = stepping;
    this.method = method;
  }

  public VectorField field() {
    return field;
  }

  public Solver solver() {
    return solver;
  }

  public double startTime() {
    return t0;
  }

  public double endTime() {
    return t1;
  }

  /** The grid of a fixed-step block for the current forward pass. */
  TimeGrid fixedGrid() {
    return TimeGrid.uniform(t0, t1, ((Stepping.Fixed) stepping).steps(), passes);
  }

  /** The number of the current forward pass (recomputations belong to the pass they repeat). */
  long pass() {
    return passes;
  }

  public Stepping stepping() {
    return stepping;
  }

  public GradientMethod method() {
    return method;
  }

  /** Changes how this block is differentiated from the next forward pass on. */
  public void setMethod(GradientMethod method) {
    this.method = java.util.Objects.requireNonNull(method, "method");
  }

  /** The shape of the last input this block saw, or null before its first forward pass. */
  public org.anode.api.Shape lastInputShape() {
    return lastInputShape;
  }

  /** Notes the steps a forward solve took (an adaptive one's accepted steps). */
  void solved(TimeGrid grid) {
    lastSteps = grid.steps();
  }

  /** Steps of a fixed-step block; for an adaptive one, the steps of its last forward pass. */
  public int steps() {
    return stepping instanceof Stepping.Fixed fixed ? fixed.steps() : lastSteps;
  }

  /** The parameters of f that require gradients, in a fixed order. */
  public List<Parameter> fieldParameters() {
    return new ArrayList<>(field.parameters().values());
  }

  /**
   * {@code z0} followed by the field's parameters: the inputs of the one tape node that a
   * checkpointing method records ({@link BlockContext#checkpointNode}), so that it records when
   * either needs a gradient.
   */
  Variable[] inputsWithParameters(Variable z0) {
    List<Parameter> params = fieldParameters();
    Variable[] inputs = new Variable[params.size() + 1];
    inputs[0] = z0;
    for (int i = 0; i < params.size(); i++) {
      inputs[i + 1] = params.get(i);
    }
    return inputs;
  }

  @Override
  public Variable forward(Variable z0) {
    if (!org.anode.nn.Recomputation.active()) {
      passes++;
    }
    lastInputShape = z0.shape();
    long before = field.evaluations();
    Variable zT = method.integrate(new BlockContext(this), z0);
    forwardEvaluations += field.evaluations() - before;
    return zT;
  }

  // ---- for gradient methods (through BlockContext) ---------------------------------------------

  /**
   * What a gradient method sees of this block for the current forward pass ({@link BlockContext}):
   * also for experiments that step a block by hand, such as rebuilding z(0) by a reversible
   * solver's inverse.
   */
  public BlockContext context() {
    return new BlockContext(this);
  }

  /**
   * The forward solution without recording: the steps taken, the final state and, for adaptive
   * stepping, how many tried steps the controller rejected.
   */
  public record Solution(TimeGrid grid, Variable end, int rejectedSteps) {
    public Solution(TimeGrid grid, Variable end) {
      this(grid, end, 0);
    }
  }

  /**
   * Solves from {@code z0} with recording paused; intermediate states are freed as it goes. The
   * returned state belongs to the caller's scope.
   */
  public Solution solveUnrecorded(Variable z0) {
    try (Tape.Pause off = Tape.pause();
        TensorScope scope = TensorScope.open()) {
      Solution s;
      if (stepping instanceof Stepping.Fixed fixed) {
        TimeGrid grid = TimeGrid.uniform(t0, t1, fixed.steps(), passes);
        s = new Solution(grid, advance(Variable.constant(z0.value()), grid, 0, grid.steps()));
      } else {
        AdaptiveIntegrator.Carried c =
            AdaptiveIntegrator.solve(this, (Stepping.Adaptive) stepping, z0, t0, t1);
        for (int i = 1; i < c.state().size(); i++) {
          if (c.state().get(i).value() != c.state().get(0).value()) {
            c.state().get(i).value().close(); // z alone is the solution
          }
        }
        s = new Solution(c.grid(), c.state().get(0), c.rejected());
      }
      scope.keep(s.end().value());
      lastSteps = s.grid().steps();
      return new Solution(s.grid(), Variable.constant(s.end().value()), s.rejectedSteps());
    }
  }

  /**
   * Steps {@code from} to {@code to − 1} of {@code grid} from state {@code z}, recorded on the
   * current tape if one records. Steps advanced without recording are counted. A solver that
   * carries more than z ({@link Solver#carried()}) starts its state here, so it can start only at
   * step 0.
   */
  Variable advance(Variable z, TimeGrid grid, int from, int to) {
    boolean recording = Tape.current() != null;
    List<Variable> state;
    if (solver.carried() == 1) {
      state = advanceState(List.of(z), List.of(z.value()), grid, from, to);
    } else {
      if (from != 0) {
        throw new IllegalArgumentException(
            solver
                + " carries "
                + solver.carried()
                + " tensors from step to step: z alone can start it only at step 0, not at step "
                + from
                + " (BlockContext.advanceCarried steps a carried state from any step)");
      }
      state = advanceState(begin(grid, z), List.of(z.value()), grid, from, to);
      for (int c = 1; c < state.size(); c++) {
        if (state.get(c).value() != state.get(0).value()) {
          Tape.releaseIntermediate(state.get(c).value());
        }
      }
    }
    Variable y = state.get(0);
    return recording ? y : Variable.constant(y.value());
  }

  /**
   * The solver's carried state at the grid's first time point, its evaluations keyed as step −1.
   */
  List<Variable> begin(TimeGrid grid, Variable z) {
    return Tape.inOwnScopeAll(
        () -> solver.begin(Solver.VARIABLES, keyed(grid.pass(), -1), grid.t(0), z));
  }

  /**
   * Steps {@code from} to {@code to − 1} of the carried {@code state}, each in its own scope: its
   * temporaries (evaluations of f, stages, h·k) die with it, what it saved for backward goes to the
   * tape, and each intermediate state is freed once the next one exists (or, when saved, after the
   * last operation that reads it is swept) — except {@code callers}, tensors the caller owns.
   */
  List<Variable> advanceState(
      List<Variable> state, List<org.anode.api.Tensor> callers, TimeGrid grid, int from, int to) {
    if (Tape.current() == null) {
      unrecordedSteps += to - from;
    }
    List<Variable> y = state;
    for (int i = from; i < to; i++) {
      int step = i;
      List<Variable> current = y;
      List<Variable> next = Tape.inOwnScopeAll(() -> step(grid, step, current));
      release(current, next, callers);
      y = next;
    }
    return y;
  }

  /**
   * Frees the tensors of {@code old} that {@code next} does not carry on, except {@code callers}.
   */
  static void release(List<Variable> old, List<Variable> next, List<org.anode.api.Tensor> callers) {
    java.util.Set<org.anode.api.Tensor> kept =
        java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    kept.addAll(callers);
    for (Variable v : next) {
      kept.add(v.value());
    }
    for (Variable v : old) {
      if (kept.add(v.value())) {
        Tape.releaseIntermediate(v.value());
      }
    }
  }

  /** Step {@code i} of {@code grid} on the carried state, evaluations keyed (pass, step, stage). */
  List<Variable> step(TimeGrid grid, int i, List<Variable> state) {
    return solver.advance(Solver.VARIABLES, keyed(grid.pass(), i), grid.t(i), grid.dt(i), state);
  }

  /** f with each evaluation keyed by (pass, step, stage), stages counted from 0. */
  StateSpace.Field<Variable> keyed(long pass, int step) {
    int[] stage = {0};
    return (t, v) -> {
      try (RandomKey key = RandomKey.set(RandomKey.of(pass, step, stage[0]++))) {
        return field.evaluate(t, v);
      }
    };
  }

  /** Runs {@code body} as part of the backward pass, counting its evaluations of f as backward. */
  <T> T inBackward(java.util.function.Supplier<T> body) {
    long before = field.evaluations();
    try {
      return body.get();
    } finally {
      backwardEvaluations += field.evaluations() - before;
    }
  }

  /** Evaluations of f in forward passes since creation (or {@link #resetCounters()}). */
  public long forwardEvaluations() {
    return forwardEvaluations;
  }

  /** Evaluations of f in backward passes (recomputations, adjoint integration). */
  public long backwardEvaluations() {
    return backwardEvaluations;
  }

  /** Solver steps advanced without recording, forward passes and recomputations together. */
  public long unrecordedSteps() {
    return unrecordedSteps;
  }

  public void resetCounters() {
    forwardEvaluations = 0;
    backwardEvaluations = 0;
    unrecordedSteps = 0;
  }

  @Override
  public String toString() {
    return "OdeBlock[" + solver + ", " + stepping + ", " + method + ", t=[" + t0 + ", " + t1 + "]]";
  }
}
