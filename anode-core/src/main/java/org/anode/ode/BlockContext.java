package org.anode.ode;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Segment;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.nn.Parameter;
import org.anode.nn.RandomKey;
import org.anode.nn.Recomputation;

/**
 * Everything a {@link GradientMethod} may do with the block it integrates, handed to {@link
 * GradientMethod#integrate} for one forward pass: the time grid, the solver's steps recorded or
 * not, f evaluated as a given step and stage of the forward pass evaluated it (same random draws,
 * same batch statistics on recomputation), a recomputation swept once, and the one tape node
 * through which a checkpointing method joins the outer tape. The built-in methods use nothing else,
 * so a third-party method can do whatever they do.
 *
 * <pre>{@code
 * // ANODE in a few lines: keep z0, recompute the block and sweep it in the backward pass.
 * public Variable integrate(BlockContext block, Variable z0) {
 *   OdeBlock.Solution forward = block.solveUnrecorded(z0);
 *   TimeGrid grid = forward.grid();
 *   return block.checkpointNode(z0, forward.end().value(),
 *       (gradOut, needInputGrad) -> block.recomputeAndSweep(
 *           grid, 0, grid.steps(), z0.value(), gradOut, needInputGrad),
 *       z0.value());
 * }
 * }</pre>
 */
public final class BlockContext {
  private final OdeBlock block;

  BlockContext(OdeBlock block) {
    this.block = block;
  }

  /** The block: its field, solver, stepping and time interval (read-only use). */
  public OdeBlock block() {
    return block;
  }

  public VectorField field() {
    return block.field();
  }

  public Solver solver() {
    return block.solver();
  }

  public Stepping stepping() {
    return block.stepping();
  }

  /** The field's parameters that require gradients, in a fixed order. */
  public List<Parameter> parameters() {
    return block.fieldParameters();
  }

  /** Whether the block takes a fixed number of steps (else the grid is known after a solve). */
  public boolean fixedSteps() {
    return block.stepping() instanceof Stepping.Fixed;
  }

  /** The grid of a fixed-step block for this forward pass. */
  public TimeGrid fixedGrid() {
    if (!fixedSteps()) {
      throw new IllegalStateException(
          "BlockContext.fixedGrid: " + block.stepping() + " has no grid before it is solved");
    }
    return block.fixedGrid();
  }

  /**
   * Solves from {@code z0} with recording paused, freeing each state once the next exists; the
   * steps taken (a fixed grid, or an adaptive solve's accepted steps) and the final state, which
   * belongs to the caller's scope.
   */
  public OdeBlock.Solution solveUnrecorded(Variable z0) {
    return block.solveUnrecorded(z0);
  }

  /**
   * Steps {@code from} to {@code to − 1} of {@code grid} from {@code z}: recorded on the current
   * tape if one records (each step in its own scope, what it saved handed to the tape), else
   * unrecorded and counted as recomputation. Returns the state at step {@code to}.
   */
  public Variable advance(Variable z, TimeGrid grid, int from, int to) {
    return block.advance(z, grid, from, to);
  }

  /**
   * f at {@code (t, z)} as stage {@code stage} of step {@code step} of {@code grid}'s pass
   * evaluated it: the same random draws (dropout), and on recomputation the same batch statistics.
   */
  public Variable evaluate(TimeGrid grid, int step, int stage, double t, Variable z) {
    try (RandomKey key = RandomKey.set(RandomKey.of(grid.pass(), step, stage))) {
      return block.field().evaluate(t, z);
    }
  }

  /**
   * Recomputes steps {@code from} to {@code to − 1} from {@code z} on an inner tape and sweeps it
   * once from {@code gradOut}: parameters' gradients accumulate, and dL/dz is returned (in the
   * caller's scope) when {@code needInputGrad}, else null. Batch norm replays its statistics.
   */
  public Tensor recomputeAndSweep(
      TimeGrid grid, int from, int to, Tensor z, Tensor gradOut, boolean needInputGrad) {
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin()) {
      Segment steps =
          Segment.record(z, needInputGrad, start -> block.advance(start, grid, from, to));
      steps.releaseOutput(); // z(t_to) is known already: only the sweep is wanted
      Tensor g = steps.backward(gradOut);
      return g == null ? null : scope.keep(g);
    }
  }

  // ---- the carried state of a solver (Solver#carried), for reversible methods -------------------

  /** The steps a solve took and the solver's final carried state (z(T) first). */
  public record CarriedSolution(TimeGrid grid, List<Tensor> state) {}

  /**
   * Solves from {@code z0} with recording paused — a fixed grid, or adaptive steps — and returns
   * the steps and the solver's final carried state ({@link Solver#carried()} tensors, in the
   * caller's scope).
   */
  public CarriedSolution solveCarried(Variable z0) {
    try (Tape.Pause off = Tape.pause();
        TensorScope scope = TensorScope.open()) {
      Variable start = Variable.constant(z0.value());
      TimeGrid grid;
      List<Variable> state;
      if (fixedSteps()) {
        grid = fixedGrid();
        state =
            block.advanceState(
                block.begin(grid, start), List.of(z0.value()), grid, 0, grid.steps());
      } else {
        AdaptiveIntegrator.Carried c =
            AdaptiveIntegrator.solve(
                block,
                (Stepping.Adaptive) block.stepping(),
                start,
                block.startTime(),
                block.endTime());
        grid = c.grid();
        state = c.state();
      }
      List<Tensor> out = new ArrayList<>(state.size());
      for (Variable v : state) {
        out.add(scope.keep(v.value()));
      }
      block.solved(grid);
      return new CarriedSolution(grid, out);
    }
  }

  /**
   * The carried state before step {@code i} of {@code grid} from the state {@code after} it, by the
   * solver's inverse ({@link ReversibleSolver#inverse}), unrecorded; its evaluations of f are keyed
   * as the forward evaluations they repeat. New tensors in the caller's scope.
   */
  public List<Tensor> inverse(TimeGrid grid, int i, List<Tensor> after) {
    ReversibleSolver solver = reversible();
    try (Tape.Pause off = Tape.pause();
        TensorScope scope = TensorScope.open()) {
      List<Variable> in = new ArrayList<>(after.size());
      for (Tensor t : after) {
        in.add(Variable.constant(t));
      }
      List<Variable> before =
          solver.inverse(
              Solver.VARIABLES,
              block.keyed(grid.pass(), i + solver.inverseRepeatsStep()),
              grid.t(i),
              grid.dt(i),
              in);
      List<Tensor> out = new ArrayList<>(before.size());
      for (Variable v : before) {
        out.add(scope.keep(v.value()));
      }
      return out;
    }
  }

  /**
   * Steps {@code from} to {@code to − 1} of {@code grid} from the carried {@code state},
   * unrecorded; a state of z alone at step 0 is started first ({@link Solver#begin}). Returns the
   * state at step {@code to} (new tensors in the caller's scope, the given ones untouched; with
   * {@code from == to}, the given ones).
   */
  public List<Tensor> advanceCarried(List<Tensor> state, TimeGrid grid, int from, int to) {
    try (Tape.Pause off = Tape.pause();
        TensorScope scope = TensorScope.open()) {
      List<Variable> start = new ArrayList<>(state.size());
      for (Tensor t : state) {
        start.add(Variable.constant(t));
      }
      List<Variable> end = block.advanceState(started(grid, from, start), state, grid, from, to);
      List<Tensor> out = new ArrayList<>(end.size());
      for (Variable v : end) {
        out.add(scope.keep(v.value()));
      }
      return out;
    }
  }

  /**
   * Recomputes steps {@code from} to {@code to − 1} from the carried {@code state} on an inner tape
   * and sweeps them once from {@code gradTo} (the gradients of the state at step {@code to}; null
   * for none): parameters' gradients accumulate, and the gradients of {@code state} are returned
   * when {@code needInputGrad} (else null). A state of z alone at step 0 is started first.
   */
  public List<Tensor> recomputeAndSweep(
      TimeGrid grid,
      int from,
      int to,
      List<Tensor> state,
      List<Tensor> gradTo,
      boolean needInputGrad) {
    List<Tensor> grads =
        recordAndSweep(
            state,
            needInputGrad,
            v -> block.advanceState(started(grid, from, v), values(v), grid, from, to),
            gradTo);
    return needInputGrad ? grads : null;
  }

  /** {@code state}, or the solver's state started from it when it is z alone at step 0. */
  private List<Variable> started(TimeGrid grid, int from, List<Variable> state) {
    return from == 0 && state.size() == 1 && block.solver().carried() > 1
        ? block.begin(grid, state.get(0))
        : state;
  }

  private static List<Tensor> values(List<Variable> vs) {
    List<Tensor> out = new ArrayList<>(vs.size());
    for (Variable v : vs) {
      out.add(v.value());
    }
    return out;
  }

  /**
   * Recomputes step {@code i} of {@code grid} from the carried state {@code before} on an inner
   * tape and sweeps it once from {@code gradAfter} (the gradients of the state after the step; null
   * for none): parameters' gradients accumulate, and the gradients of {@code before} are returned
   * (null where none flows), in the caller's scope.
   */
  public List<Tensor> sweepStep(TimeGrid grid, int i, List<Tensor> before, List<Tensor> gradAfter) {
    return recordAndSweep(
        before, true, v -> Tape.inOwnScopeAll(() -> block.step(grid, i, v)), gradAfter);
  }

  /**
   * Recomputes the solver's {@link Solver#begin} from {@code z0} on an inner tape and sweeps it
   * from {@code gradBegin} (the gradients of the carried state at the first time point):
   * parameters' gradients accumulate, and dL/dz0 is returned (in the caller's scope).
   */
  public Tensor sweepBegin(TimeGrid grid, Tensor z0, List<Tensor> gradBegin) {
    return recordAndSweep(List.of(z0), true, v -> block.begin(grid, v.get(0)), gradBegin).get(0);
  }

  private List<Tensor> recordAndSweep(
      List<Tensor> inputs,
      boolean inputGrads,
      java.util.function.Function<List<Variable>, List<Variable>> body,
      List<Tensor> gradOutputs) {
    try (TensorScope scope = TensorScope.open();
        Recomputation r = Recomputation.begin();
        Tape tape = Tape.record()) {
      List<Variable> leaves = new ArrayList<>(inputs.size());
      for (Tensor t : inputs) {
        leaves.add(inputGrads ? Variable.leaf(t) : Variable.constant(t));
      }
      List<Variable> outputs = body.apply(leaves);
      for (Variable o : outputs) {
        // The state after the step is known already: only the sweep is wanted.
        if (!inputs.contains(o.value()) && !tape.meter().holds(o.value())) {
          o.value().close();
        }
      }
      tape.backward(outputs, gradOutputs);
      List<Tensor> grads = new ArrayList<>(leaves.size());
      for (Variable leaf : leaves) {
        Tensor g = leaf.takeGrad();
        grads.add(g == null ? null : TensorScope.attach(g));
      }
      for (Tensor g : grads) {
        if (g != null) {
          scope.keep(g);
        }
      }
      return grads;
    }
  }

  private ReversibleSolver reversible() {
    if (block.solver() instanceof ReversibleSolver r) {
      return r;
    }
    throw new IllegalStateException(
        "BlockContext.inverse: " + block.solver() + " is not a reversible solver");
  }

  /** A checkpointed block's backward: returns dL/dz0 and accumulates the parameters' gradients. */
  @FunctionalInterface
  public interface BlockBackward {
    /**
     * Returns dL/dz0 for {@code gradOut} = dL/dz(T) (null when not {@code needInputGrad}); adds
     * dL/dθ into the parameters' gradients. It may call {@link Tape#lastRead} on {@code gradOut} or
     * on the saved tensor once it has read them for the last time.
     */
    Tensor apply(Tensor gradOut, boolean needInputGrad);
  }

  /**
   * Records the block as ONE node of the current tape, from {@code z0} and the field's parameters
   * to {@code end}, keeping {@code saved} (reported as a checkpoint) for {@code backward}, whose
   * evaluations of f count as backward evaluations. Without a recording tape, or when neither z0
   * nor a parameter needs a gradient, it records nothing and returns {@code end} as a constant.
   */
  public Variable checkpointNode(Variable z0, Tensor end, BlockBackward backward, Tensor... saved) {
    Objects.requireNonNull(backward, "backward");
    Variable[] inputs = block.inputsWithParameters(z0);
    Variable out =
        Ops.function(
            end,
            inputs,
            saved.clone(),
            (gradOut, needs) -> {
              Tensor[] grads = new Tensor[inputs.length];
              grads[0] = block.inBackward(() -> backward.apply(gradOut, needs[0]));
              return grads;
            });
    if (Tape.current() != null && out.requiresGrad()) {
      for (Tensor t : saved) {
        Tape.current().meter().markCheckpoint(t);
      }
    }
    return out;
  }

  /**
   * Keeps {@code segment} (this block's recorded steps, for the backward to sweep directly) as the
   * current tape's latest kept segment, closing the one kept before; null only closes that one. A
   * kept recording is worth its memory only while it is the latest (see {@link
   * CheckpointedGradient}).
   */
  public void keepLatest(Segment segment) {
    Tape tape = Tape.current();
    if (tape != null) {
      tape.keepLatest(segment);
    } else if (segment != null) {
      throw new IllegalStateException("BlockContext.keepLatest: no tape records");
    }
  }
}
