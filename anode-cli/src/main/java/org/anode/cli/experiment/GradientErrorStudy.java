package org.anode.cli.experiment;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.anode.api.Backend;
import org.anode.api.Conv2dSpec;
import org.anode.api.DType;
import org.anode.api.Shape;
import org.anode.api.Tensor;
import org.anode.api.TensorScope;
import org.anode.autodiff.GradientCheck;
import org.anode.autodiff.Ops;
import org.anode.autodiff.Tape;
import org.anode.autodiff.Variable;
import org.anode.models.OdeResNet;
import org.anode.models.SqueezeNextBlock;
import org.anode.nn.Conv2d;
import org.anode.nn.Module;
import org.anode.nn.Parameter;
import org.anode.nn.ParameterFactory;
import org.anode.nn.Recomputation;
import org.anode.nn.Sequential;
import org.anode.nn.Tanh;
import org.anode.ode.AdjointGradient;
import org.anode.ode.BlockContext;
import org.anode.ode.CheckpointedGradient;
import org.anode.ode.GradientMethod;
import org.anode.ode.OdeBlock;
import org.anode.ode.ReversibleGradient;
import org.anode.ode.ReversibleSolver;
import org.anode.ode.Solver;
import org.anode.ode.Stepping;
import org.anode.ode.StoreAllGradient;
import org.anode.ode.TimeGrid;
import org.anode.ode.VectorField;

/**
 * The ANODE paper's first claim (§2, Figs. 2–4), measured: for one ODE block, in float64, the
 * relative error of the input and parameter gradients of ANODE and of the continuous adjoint
 * against store-all backprop (the exact gradient of the discrete forward pass), and the error of
 * reconstructing z(0) by integrating the block backwards from z(T), as the adjoint must. For a
 * reversible solver (ALF, reversible Heun) also the reversible method's errors, and z(0) is rebuilt
 * by the solver's exact inverse instead.
 */
public final class GradientErrorStudy {
  private GradientErrorStudy() {}

  /** One measurement. */
  public record Row(
      String family,
      String solver,
      int steps,
      double anodeInput,
      double anodeParams,
      double adjointInput,
      double adjointParams,
      double reversibleInput,
      double reversibleParams,
      double reconstruction) {}

  static final int CHANNELS = 8;

  /** The field of a family: resnet (conv, BN, ReLU), sqnxt (five SqueezeNext convs), tanh. */
  static Module field(String family, ParameterFactory f) {
    return switch (family) {
      case "resnet" -> OdeResNet.field(f, CHANNELS);
      case "sqnxt" -> SqueezeNextBlock.field(f, CHANNELS);
      case "tanh" ->
          new Sequential(
              new Conv2d(f, CHANNELS, CHANNELS, 3, Conv2dSpec.of(1, 1), true), new Tanh());
      default ->
          throw new IllegalArgumentException(
              "family must be resnet, sqnxt or tanh, got '" + family + "'");
    };
  }

  private record Grads(double[] input, double[] params) {}

  private static OdeBlock block(
      Backend be, String family, Supplier<Solver> solver, int steps, GradientMethod m) {
    ParameterFactory f = new ParameterFactory(be, DType.FLOAT64, 31);
    return new OdeBlock(
        VectorField.autonomous(field(family, f)), solver.get(), 0, 1, Stepping.fixed(steps), m);
  }

  private static Grads gradients(OdeBlock block, Tensor x, Tensor r) {
    try (TensorScope scope = TensorScope.open()) {
      Variable in = Variable.leaf(x);
      try (Tape tape = Tape.record()) {
        tape.backward(Ops.sum(Ops.mul(block.forward(in), Variable.constant(r)), false));
      }
      List<double[]> parts = new ArrayList<>();
      int n = 0;
      for (Parameter p : block.parameters().values()) {
        double[] g = p.grad().toDoubleArray();
        parts.add(g);
        n += g.length;
        p.zeroGrad();
      }
      double[] params = new double[n];
      int k = 0;
      for (double[] g : parts) {
        System.arraycopy(g, 0, params, k, g.length);
        k += g.length;
      }
      double[] gx = in.grad().toDoubleArray();
      in.zeroGrad();
      return new Grads(gx, params);
    }
  }

  /**
   * ‖z0_rec − z0‖ / ‖z0‖, where z0_rec integrates back from z(T) over the same steps — by the exact
   * inverse for a reversible solver, else by the same solver with negated steps.
   */
  static double reconstruction(OdeBlock block, Tensor x) {
    try (TensorScope scope = TensorScope.open();
        Tape.Pause off = Tape.pause();
        Recomputation r = Recomputation.begin()) {
      if (block.solver() instanceof ReversibleSolver) {
        BlockContext ctx = block.context();
        BlockContext.CarriedSolution solved = ctx.solveCarried(Variable.constant(x));
        List<Tensor> state = solved.state();
        TimeGrid g = solved.grid();
        for (int i = g.steps() - 1; i >= 0; i--) {
          state = ctx.inverse(g, i, state);
        }
        return GradientCheck.relativeError(x.toDoubleArray(), state.get(0).toDoubleArray());
      }
      OdeBlock.Solution s = block.solveUnrecorded(Variable.constant(x));
      TimeGrid g = s.grid();
      Variable z = s.end();
      for (int i = g.steps() - 1; i >= 0; i--) {
        z = block.solver().step(block.field(), g.t(i + 1), -g.dt(i), z);
      }
      return GradientCheck.relativeError(x.toDoubleArray(), z.value().toDoubleArray());
    }
  }

  /** Measures one family and solver at each number of steps. */
  public static List<Row> run(
      Backend be, String family, String solverName, Supplier<Solver> solver, int[] steps) {
    List<Row> rows = new ArrayList<>();
    try (TensorScope scope = TensorScope.open()) {
      Tensor x = random(be, 1, Shape.of(2, CHANNELS, 8, 8));
      Tensor r = random(be, 2, Shape.of(2, CHANNELS, 8, 8));
      for (int n : steps) {
        OdeBlock ref = block(be, family, solver, n, new StoreAllGradient());
        OdeBlock anode = block(be, family, solver, n, new CheckpointedGradient());
        OdeBlock adjoint = block(be, family, solver, n, new AdjointGradient());
        Grads g0 = gradients(ref, x, r);
        Grads g1 = gradients(anode, x, r);
        Grads g2 = gradients(adjoint, x, r);
        Grads g3 = null;
        if (ref.solver() instanceof ReversibleSolver) {
          OdeBlock reversible = block(be, family, solver, n, new ReversibleGradient());
          g3 = gradients(reversible, x, r);
          reversible.close();
        }
        rows.add(
            new Row(
                family,
                solverName,
                n,
                GradientCheck.relativeError(g0.input(), g1.input()),
                GradientCheck.relativeError(g0.params(), g1.params()),
                GradientCheck.relativeError(g0.input(), g2.input()),
                GradientCheck.relativeError(g0.params(), g2.params()),
                g3 == null ? Double.NaN : GradientCheck.relativeError(g0.input(), g3.input()),
                g3 == null ? Double.NaN : GradientCheck.relativeError(g0.params(), g3.params()),
                reconstruction(ref, x)));
        ref.close();
        anode.close();
        adjoint.close();
      }
    }
    return rows;
  }

  /** Values uniform in [−1, 1) from {@code seed}, float64. */
  static Tensor random(Backend be, long seed, Shape s) {
    SplittableRandom rng = new SplittableRandom(seed);
    double[] d = new double[(int) s.numel()];
    for (int i = 0; i < d.length; i++) {
      d[i] = rng.nextDouble(-1, 1);
    }
    return be.fromArray(d, s);
  }
}
